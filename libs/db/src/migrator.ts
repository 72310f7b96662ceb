// Applies the plain SQL files of migrations/ in order, through Kysely's Migrator (locked, recorded).
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResult } from 'kysely';

/** migrations/ at the repository root: three levels up from both libs/db/src and libs/db/dist. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly directory: string = MIGRATIONS_DIR) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.directory)).filter((name) => name.endsWith('.sql')).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      const text = await readFile(`${this.directory}/${file}`, 'utf8');
      // No parameters, so pg sends it with the simple protocol: several statements per file are fine.
      migrations[file.replace(/\.sql$/, '')] = { up: async (db) => void (await sql.raw(text).execute(db)) };
    }
    return migrations;
  }
}

export async function migrateToLatest(db: Kysely<any>, directory?: string): Promise<MigrationResult[]> {
  const migrator = new Migrator({
    db,
    provider: new SqlFileMigrationProvider(directory),
    migrationTableName: 'staticreg_migration',
    migrationLockTableName: 'staticreg_migration_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return results ?? [];
}
