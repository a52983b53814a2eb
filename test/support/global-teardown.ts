import { deleteTestRedisKeys, dropTestDatabase } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  await dropTestDatabase();
  await deleteTestRedisKeys();
  await (globalThis as { __plinthEmbedded?: { stop(): Promise<void> } }).__plinthEmbedded?.stop();
}
