import { BulwarkError } from '../errors.js';
import type { Row, StoreReader } from '../store/index.js';
import type { Attributes } from './attributes.js';
import type { RegistryContext } from './context.js';
import { THING_PRINCIPALS_TABLE, THINGS_TABLE } from './migrations.js';
import { pageOfSorted, type Page, type PageRequest } from './pagination.js';
import { readThing, thingNotFound } from './records.js';
import { invalid } from './validation.js';

/** How a principal is attached to a thing (AWS's ThingPrincipalType; NON_EXCLUSIVE_THING by default). */
export type ThingPrincipalType = 'EXCLUSIVE_THING' | 'NON_EXCLUSIVE_THING';
export const THING_PRINCIPAL_TYPES: readonly ThingPrincipalType[] = [
  'EXCLUSIVE_THING',
  'NON_EXCLUSIVE_THING',
];

/** What the policy variables `iot:Connection.Thing.*` resolve to for a connection. */
export interface ConnectedThing {
  thingName: string;
  thingTypeName?: string;
  attributes: Readonly<Attributes>;
  isAttached: true;
}

export interface ThingPrincipalObject {
  principal: string;
  thingPrincipalType: ThingPrincipalType;
}

export interface PrincipalThingObject {
  thingName: string;
  thingPrincipalType: ThingPrincipalType;
}

interface CachedThing {
  thingTypeName?: string;
  attributes: Readonly<Attributes>;
}

function cachedThing(row: Row): CachedThing {
  const typeName = row.thing_type_name as string | null;
  return {
    ...(typeName !== null ? { thingTypeName: typeName } : {}),
    // An erased thing key leaves the attributes unreadable: the thing then has none.
    attributes: Object.freeze({ ...((row.attributes as Attributes | null | undefined) ?? {}) }),
  };
}

/**
 * Which principals (certificate ARNs) are attached to which things: AttachThingPrincipal,
 * DetachThingPrincipal and their lists, backed by the registry's table. An in-memory index,
 * loaded at start and kept current by this process's writes, answers the broker synchronously;
 * it caches the type and (opened) attributes of attached things only.
 */
export class ThingPrincipals {
  private readonly context: RegistryContext;
  private readonly principalExists: (principal: string) => Promise<boolean>;
  private readonly thingsByPrincipal = new Map<string, Map<string, ThingPrincipalType>>();
  private readonly principalsByThing = new Map<string, Map<string, ThingPrincipalType>>();
  private readonly attachedThings = new Map<string, CachedThing>();

  constructor(
    context: RegistryContext,
    principalExists: (principal: string) => Promise<boolean> = () => Promise.resolve(true),
  ) {
    this.context = context;
    this.principalExists = principalExists;
  }

  /** Fills the index from the store; call once at start. */
  async load(): Promise<void> {
    for (const row of await this.context.store.list(THING_PRINCIPALS_TABLE))
      this.index(
        row.thing_name as string,
        row.principal as string,
        row.thing_principal_type as ThingPrincipalType,
      );
    for (const name of this.principalsByThing.keys())
      await this.cacheThing(this.context.store, name);
  }

  // ---- synchronous, for the broker ----

  thingsOfPrincipal(principal: string): readonly string[] {
    return [...(this.thingsByPrincipal.get(principal)?.keys() ?? [])];
  }

  principalsOfThing(thingName: string): readonly string[] {
    return [...(this.principalsByThing.get(thingName)?.keys() ?? [])];
  }

  /**
   * The thing a connection acts as, for the thing policy variables: the thing the principal is
   * exclusively attached to, else the thing named by the client id if it is attached to the
   * principal (AWS: with a non-exclusive attachment the client id must equal the thing name).
   * Undefined: the variables do not resolve.
   */
  thingForConnection(clientId: string, principal: string): ConnectedThing | undefined {
    const things = this.thingsByPrincipal.get(principal);
    if (!things) return undefined;
    let thingName: string | undefined;
    for (const [name, type] of things) if (type === 'EXCLUSIVE_THING') thingName = name;
    if (thingName === undefined && things.has(clientId)) thingName = clientId;
    const cached = thingName === undefined ? undefined : this.attachedThings.get(thingName);
    if (thingName === undefined || !cached) return undefined;
    return { thingName, ...cached, isAttached: true };
  }

  // ---- the API ----

  /** True when any thing is attached to the principal (read from the store). */
  async isAttached(principal: string): Promise<boolean> {
    return (await this.context.store.count(THING_PRINCIPALS_TABLE, { principal })) > 0;
  }

  async attach(
    thingName: string,
    principal: string,
    type: ThingPrincipalType = 'NON_EXCLUSIVE_THING',
  ): Promise<void> {
    this.checkPrincipal(principal);
    // The principal belongs to the pki capability; its store is asked before this transaction.
    if (!(await this.principalExists(principal)))
      throw new BulwarkError('ResourceNotFound', `The principal ${principal} does not exist.`);
    const thing = await this.context.write(async (tx) => {
      const row = await readThing(tx, thingName);
      if (!row) throw thingNotFound(thingName);
      const others = (await tx.list(THING_PRINCIPALS_TABLE, { where: { principal } })).filter(
        (other) => other.thing_name !== thingName,
      );
      if (type === 'EXCLUSIVE_THING' && others.length > 0)
        throw invalid(
          `The principal is already attached to another thing; it cannot be attached to ${thingName} exclusively`,
        );
      const exclusive = others.find((other) => other.thing_principal_type === 'EXCLUSIVE_THING');
      if (exclusive)
        throw invalid(
          `The principal is attached exclusively to thing ${exclusive.thing_name as string}`,
        );
      await tx.put(THING_PRINCIPALS_TABLE, {
        thing_name: thingName,
        principal,
        thing_principal_type: type,
        attached_at: this.context.clock(),
      });
      return row;
    });
    this.index(thingName, principal, type);
    this.attachedThings.set(thingName, cachedThing(thing));
  }

  /** Detaching a principal that is not attached is no error (as AWS). */
  async detach(thingName: string, principal: string): Promise<void> {
    this.checkPrincipal(principal);
    await this.context.write(async (tx) => {
      if (!(await readThing(tx, thingName))) throw thingNotFound(thingName);
      await tx.delete(THING_PRINCIPALS_TABLE, { thing_name: thingName, principal });
    });
    this.thingsByPrincipal.get(principal)?.delete(thingName);
    if (this.thingsByPrincipal.get(principal)?.size === 0) this.thingsByPrincipal.delete(principal);
    const principals = this.principalsByThing.get(thingName);
    principals?.delete(principal);
    if (principals?.size === 0) {
      this.principalsByThing.delete(thingName);
      this.attachedThings.delete(thingName);
    }
  }

  async ofThing(
    thingName: string,
    page: PageRequest,
    type?: ThingPrincipalType,
  ): Promise<Page<ThingPrincipalObject>> {
    if (!(await readThing(this.context.store, thingName))) throw thingNotFound(thingName);
    const rows = await this.context.store.list(THING_PRINCIPALS_TABLE, {
      where: { thing_name: thingName, ...(type ? { thing_principal_type: type } : {}) },
    });
    return pageOf('ListThingPrincipals', rows, 'principal', page, (row) => ({
      principal: row.principal as string,
      thingPrincipalType: row.thing_principal_type as ThingPrincipalType,
    }));
  }

  async ofPrincipal(
    principal: string,
    page: PageRequest,
    type?: ThingPrincipalType,
  ): Promise<Page<PrincipalThingObject>> {
    this.checkPrincipal(principal);
    if (!(await this.principalExists(principal)))
      throw new BulwarkError('ResourceNotFound', `The principal ${principal} does not exist.`);
    const rows = await this.context.store.list(THING_PRINCIPALS_TABLE, {
      where: { principal, ...(type ? { thing_principal_type: type } : {}) },
    });
    return pageOf('ListPrincipalThings', rows, 'thing_name', page, (row) => ({
      thingName: row.thing_name as string,
      thingPrincipalType: row.thing_principal_type as ThingPrincipalType,
    }));
  }

  // ---- kept current by the registry's thing writes ----

  /** @internal Whether the thing has principals attached, inside a registry write. */
  async hasPrincipals(tx: StoreReader, thingName: string): Promise<boolean> {
    return (await tx.count(THING_PRINCIPALS_TABLE, { thing_name: thingName })) > 0;
  }

  /** @internal A thing's type or attributes changed: refresh the cache if it is attached. */
  thingChanged(row: Row): void {
    const name = row.thing_name as string;
    if (this.attachedThings.has(name)) this.attachedThings.set(name, cachedThing(row));
  }

  private index(thingName: string, principal: string, type: ThingPrincipalType): void {
    let things = this.thingsByPrincipal.get(principal);
    if (!things) this.thingsByPrincipal.set(principal, (things = new Map()));
    things.set(thingName, type);
    let principals = this.principalsByThing.get(thingName);
    if (!principals) this.principalsByThing.set(thingName, (principals = new Map()));
    principals.set(principal, type);
  }

  private async cacheThing(reader: StoreReader, thingName: string): Promise<void> {
    const [row] = await reader.list(THINGS_TABLE, {
      where: { thing_name: thingName },
      onUnreadable: 'mark',
    });
    if (row) this.attachedThings.set(thingName, cachedThing(row));
  }

  /** Principals are certificate ARNs of this account and region (Cognito identities are not served). */
  private checkPrincipal(principal: string): void {
    const resource = this.context.arns.resourceOf(principal);
    if (resource?.type !== 'cert' || !/^[0-9a-f]{64}$/.test(resource.id))
      throw invalid(
        `The principal must be the ARN of a certificate of this account (${this.context.arns.certificate('<certificateId>')})`,
      );
  }
}

function pageOf<T>(
  list: string,
  rows: Row[],
  key: string,
  request: PageRequest,
  item: (row: Row) => T,
): Page<T> {
  const byKey = new Map(rows.map((row) => [row[key] as string, row]));
  const page = pageOfSorted(list, [...byKey.keys()].sort(), request);
  return {
    items: page.items.map((name) => item(byKey.get(name) as Row)),
    ...(page.nextToken ? { nextToken: page.nextToken } : {}),
  };
}
