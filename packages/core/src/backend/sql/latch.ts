/** A session's "broken" state: settles once, with the first reason, and can be checked synchronously. */
export interface BreakLatch {
  /** True once {@link BreakLatch.breakWith} was called. */
  readonly isBroken: boolean;
  /** Settles with the first reason given. */
  readonly broken: Promise<Error>;
  /** Breaks the session; later calls are ignored. */
  breakWith(err: Error): void;
}

/** Creates an unbroken {@link BreakLatch}. */
export function newBreakLatch(): BreakLatch {
  let resolveBroken!: (err: Error) => void;
  const broken = new Promise<Error>((resolve) => {
    resolveBroken = resolve;
  });
  const latch = {
    isBroken: false,
    broken,
    breakWith(err: Error): void {
      if (latch.isBroken) return;
      latch.isBroken = true;
      resolveBroken(err);
    },
  };
  return latch;
}
