import type Database from 'better-sqlite3';

/**
 * Brings an open database's schema to the latest version in one immediate transaction (all
 * migrations apply, or none), keyed by `PRAGMA user_version`: entry i of `migrations` takes the schema
 * from version i to i + 1 (append only; never edit a released entry). A file whose version is newer
 * than the code knows is refused with the error `newer` builds: an older server must not write a
 * schema it does not understand.
 */
export function migrateSchema(
  db: Database.Database,
  migrations: readonly string[],
  newer: (version: number, latest: number) => Error,
): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > migrations.length) throw newer(version, migrations.length);
    for (let v = version; v < migrations.length; v++) db.exec(migrations[v] as string);
    if (version !== migrations.length) db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}
