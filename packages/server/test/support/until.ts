/** Waits until `condition` holds, checking every `intervalMs`; throws after `ms`. */
export async function until(
  condition: () => Promise<boolean> | boolean,
  ms: number,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
