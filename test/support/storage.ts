import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (o: Record<string, unknown>) => { run(): Promise<{ port: number }>; close(): Promise<void> };

/** A storage backend for a test app: its env, and how to stop what was started for it. */
export interface TestStorage {
  kind: 'disk' | 's3';
  env: Record<string, string>;
  close(): Promise<void>;
}

export const S3_TEST_BUCKET = 'plinth-test';

/** Local disk in a fresh temporary directory, or an S3 protocol server (s3rver) on 127.0.0.1 with one bucket. */
export async function startStorage(kind: 'disk' | 's3'): Promise<TestStorage> {
  const dir = mkdtempSync(join(tmpdir(), `plinth-storage-${kind}-`));
  if (kind === 'disk') return { kind, env: { STORAGE_DIR: dir }, close: async () => rmSync(dir, { recursive: true, force: true }) };
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: S3_TEST_BUCKET }] });
  const { port } = await server.run();
  return {
    kind,
    env: {
      STORAGE_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      STORAGE_S3_REGION: 'us-east-1',
      STORAGE_S3_BUCKET: S3_TEST_BUCKET,
      STORAGE_S3_ACCESS_KEY_ID: 'S3RVER',
      STORAGE_S3_SECRET_ACCESS_KEY: 'S3RVER',
      STORAGE_S3_FORCE_PATH_STYLE: 'true',
    },
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
