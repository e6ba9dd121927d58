import { builder } from './builder.js';

/**
 * An entity of the partner graph known here only by its 1C-Connect ID: a larger graph merges its own
 * fields onto it (names, tax numbers, contracts) and reaches its calls through it.
 */
export interface Reference {
  /** A 1C-Connect UUID, lower case. */
  id: string;
}

export const reference = (id: string | null): Reference | null => (id === null ? null : { id });

// Declared here, implemented in client.ts, support-line.ts and account.ts: ServiceCall refers to them
// and they refer to ServiceCall's connection.
export const ClientRef = builder.objectRef<Reference>('Client');
export const SupportLineRef = builder.objectRef<Reference>('SupportLine');
export const AccountRef = builder.objectRef<Reference>('Account');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The references for a list of IDs, one per ID in order, null for one that is not a 1C-Connect UUID:
 * a stitching gateway matches the results of a batch by position. No I/O.
 */
export function referencesOf(ids: readonly string[]): Array<Reference | null> {
  return ids.map((id) => (UUID.test(id) ? { id: id.toLowerCase() } : null));
}

/**
 * How a partner gateway reaches an entity: as a Federation entity (`_entities`, @key(fields: "id"))
 * and through its stitching list entry point (`clients(ids:)` and the like, @merge in `_sdl`).
 */
export function entityEntryPoints(ref: typeof ClientRef, listField: string, options: { description: string; idsDescription: string }): void {
  builder.asEntity(ref, {
    key: builder.selection<{ id: string }>('id'),
    resolveReference: ({ id }) => referencesOf([id])[0] ?? null,
  });
  builder.queryField(listField, (t) =>
    t.field({
      type: [ref],
      nullable: { list: false, items: true },
      description: `${options.description}, one per ID in order (null for an ID that is not a UUID), without any I/O: the stitching entry point a partner gateway merges on.`,
      args: { ids: t.arg.idList({ required: true, description: options.idsDescription }) },
      resolve: (_root, { ids }) => referencesOf(ids),
    }),
  );
}

