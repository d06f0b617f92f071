/**
 * Work that runs after its request was answered, so the answer's timing cannot tell what the work
 * found (forgot-password, resend-verification). Bounded: past `max` jobs in flight, a caller waits
 * for its own job rather than pile up unbounded work under a flood. `settled()` waits for all of
 * them (tests, shutdown).
 */
export class BackgroundJobs {
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly onError: ((error: unknown, message: string) => void) | undefined,
    private readonly max = 256,
  ) {}

  /** Starts `work`; resolves at once, or when it is done if too many jobs are in flight. */
  run(work: () => Promise<unknown>, failure: string): Promise<void> {
    const job = work().then(
      () => undefined,
      (error: unknown) => this.onError?.(error, failure),
    );
    this.running.add(job);
    void job.finally(() => this.running.delete(job));
    return this.running.size > this.max ? job : Promise.resolve();
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
