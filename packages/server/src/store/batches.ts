/**
 * Runs `deleteBatch` (which deletes at most `batch` rows) until a batch comes back short:
 * short transactions and no long lock, however much there is to purge. Returns the total.
 */
export async function deleteInBatches(
  deleteBatch: (batch: number) => Promise<number>,
  batch: number,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await deleteBatch(batch);
    total += deleted;
    if (deleted < batch) return total;
  }
}
