/** The SQL job store's scenes and scene grants (SceneStore). */
import type { SceneRecord } from './job-store.ts';
import type { SqlDriver } from './sql-driver.ts';
import { readScene } from './sql-job-rows.ts';

/**
 * Record a scene; the same content again keeps its first record, except its info, which is read afresh from the
 * same bytes (so a record stored before a field existed, such as the WebGL 2 flag, gains it on re-upload).
 */
export function putScene(db: SqlDriver, scene: SceneRecord): SceneRecord {
  return db.transaction(() => {
    db.run(
      `INSERT INTO scenes (scene_id, bytes, stats, info, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (scene_id) DO UPDATE SET info = excluded.info`,
      [scene.sceneId, scene.bytes, JSON.stringify(scene.stats), JSON.stringify(scene.info), scene.createdAt],
    );
    return readScene(db, scene.sceneId)!;
  });
}

export function getScene(db: SqlDriver, sceneId: string): SceneRecord | null {
  return readScene(db, sceneId);
}

export function grantScene(db: SqlDriver, sceneId: string, owner: string, now: number): void {
  db.run(`INSERT INTO scene_grants (scene_id, owner, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, [sceneId, owner, now]);
}

/** Nodes that leased a task of a job on the scene (each such lease carried the scene's presigned URL). */
export function nodesGivenScene(db: SqlDriver, sceneId: string): string[] {
  return db
    .all<{ node_id: unknown }>(`SELECT DISTINCT t.node_id FROM jobs j JOIN tasks t ON t.job_id = j.job_id WHERE j.scene_id = ? AND t.node_id IS NOT NULL ORDER BY t.node_id`, [sceneId])
    .map((r) => String(r.node_id));
}

export function isSceneGranted(db: SqlDriver, sceneId: string, owner: string): boolean {
  return db.all(`SELECT 1 FROM scene_grants WHERE scene_id = ? AND owner = ?`, [sceneId, owner]).length > 0;
}
