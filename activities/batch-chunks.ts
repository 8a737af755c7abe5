import type { BatchChunk, BatchPolicy } from '../workflows/types';

/** Greedy cut in id order: a chunk closes before it would pass either bound. */
export function cutIntoChunks(
  sizes: { id: string; bytes: number }[],
  policy: Pick<BatchPolicy, 'chunkMaxBytes' | 'chunkMaxEvents'>,
): BatchChunk[] {
  const chunks: BatchChunk[] = [];
  let current: BatchChunk | undefined;
  for (const { id, bytes } of sizes) {
    if (
      current &&
      (current.events + 1 > policy.chunkMaxEvents || current.bytes + bytes > policy.chunkMaxBytes)
    ) {
      chunks.push(current);
      current = undefined;
    }
    current = current
      ? { ...current, lastId: id, events: current.events + 1, bytes: current.bytes + bytes }
      : { firstId: id, lastId: id, events: 1, bytes };
  }
  if (current) chunks.push(current);
  return chunks;
}
