/** The SQL job store's API keys and per-owner active job counts (ApiKeyStore). */
import type { ApiKeyRecord } from './job-store.ts';
import type { SqlDriver } from './sql-driver.ts';
import { type Row, rowToApiKey, toJson } from './sql-job-rows.ts';

export function putApiKey(db: SqlDriver, key: ApiKeyRecord): void {
  db.run(`INSERT INTO api_keys (key_id, key_hash, name, role, limits, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)`, [
    key.keyId,
    key.keyHash,
    key.name,
    key.role,
    toJson(key.limits),
    key.createdAt,
    key.revokedAt,
  ]);
}

export function findApiKeyByHash(db: SqlDriver, keyHash: string): ApiKeyRecord | null {
  const [row] = db.all<Row>(`SELECT * FROM api_keys WHERE key_hash = ?`, [keyHash]);
  return row ? rowToApiKey(row) : null;
}

export function listApiKeys(db: SqlDriver): ApiKeyRecord[] {
  return db.all<Row>(`SELECT * FROM api_keys ORDER BY created_at, key_id`).map(rowToApiKey);
}

export function revokeApiKey(db: SqlDriver, keyId: string, now: number): ApiKeyRecord | null {
  return db.transaction(() => {
    db.run(`UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL`, [now, keyId]);
    const [row] = db.all<Row>(`SELECT * FROM api_keys WHERE key_id = ?`, [keyId]);
    return row ? rowToApiKey(row) : null;
  });
}

export function countActiveJobs(db: SqlDriver, owner: string): number {
  const [row] = db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE owner = ? AND state IN ('queued', 'running')`, [owner]);
  return Number(row?.n ?? 0);
}
