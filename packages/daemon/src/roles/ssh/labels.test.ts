import { describe, expect, it } from 'vitest';
import { startDynamicLabels } from './labels.js';

describe('dynamic labels', () => {
  it('runs each command without a shell, keeps its trimmed output, reruns it every period and reports a change', async () => {
    let changes = 0;
    const labels = startDynamicLabels(
      [
        { name: 'kernel', command: ['uname', '-s'], period: '1h' },
        { name: 'tick', command: ['date', '+%s%N'], period: '1s' },
        { name: 'broken', command: ['/nonexistent/program'], period: '1h' },
        { name: 'literal', command: ['echo', '$HOME;', 'x'], period: '1h' },
      ],
      () => changes++,
    );
    try {
      await labels.firstRun;
      const first = labels.current();
      expect(first['kernel']).toEqual({ period: '1h0m0s', command: ['uname', '-s'], result: 'Linux' });
      expect(first['broken']!.result).toBe('error: ENOENT');
      expect(first['literal']!.result).toBe('$HOME; x');
      const deadline = Date.now() + 5_000;
      while (changes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(changes).toBeGreaterThan(0);
      expect(labels.current()['tick']!.result).not.toBe(first['tick']!.result);
    } finally {
      labels.close();
    }
  });
});
