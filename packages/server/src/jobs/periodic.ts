/**
 * Runs `task` after a first delay, then `intervalMs` after each run ends (never two at once),
 * on unref'd timers so it never keeps the process alive. A failed run is reported and the
 * schedule goes on; `stop()` waits for a run in progress.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(firstDelayMs = this.intervalMs): void {
    this.stopped = false;
    this.schedule(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private schedule(ms: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.task()
        .catch(this.onError)
        .finally(() => {
          this.current = undefined;
          this.schedule(this.intervalMs);
        });
    }, ms);
    this.timer.unref();
  }
}
