import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Row, Store } from '../store/index.js';
import {
  IAM_GROUP_MEMBERS_TABLE,
  IAM_GROUPS_TABLE,
  IAM_INLINE_POLICIES_TABLE,
  IAM_POLICY_ATTACHMENTS_TABLE,
  IAM_USERS_TABLE,
} from './migrations.js';
import { listPage, type IamPage, type IamPageRequest } from './pagination.js';
import { iamId, nameTakenIgnoringCase, noSuchUser, type IamUser, type IamUsers } from './users.js';

/** IAM's quota of groups a user can be in. */
export const MAX_GROUPS_PER_USER = 10;

export interface IamGroup {
  groupName: string;
  /** IAM's unique id for the group (AGPA…). */
  groupId: string;
  createDate: Date;
}

function toGroup(row: Row): IamGroup {
  return {
    groupName: row.group_name as string,
    groupId: row.group_id as string,
    createDate: new Date(row.created_at as number),
  };
}

export function noSuchGroup(groupName: string): BulwarkError {
  return new BulwarkError('NoSuchEntity', `The group with name ${groupName} cannot be found.`, {
    groupName,
  });
}

/** What must be gone before DeleteGroup, with IAM's DeleteConflict wording. */
const GROUP_REFERENCES: readonly {
  table: string;
  where: (groupName: string) => Row;
  conflict: string;
}[] = [
  {
    table: IAM_GROUP_MEMBERS_TABLE,
    where: (groupName) => ({ group_name: groupName }),
    conflict: 'Cannot delete entity, must remove users from group first.',
  },
  {
    table: IAM_INLINE_POLICIES_TABLE,
    where: (groupName) => ({ principal_type: 'group', principal_name: groupName }),
    conflict: 'Cannot delete entity, must delete policies first.',
  },
  {
    table: IAM_POLICY_ATTACHMENTS_TABLE,
    where: (groupName) => ({ principal_type: 'group', principal_name: groupName }),
    conflict: 'Cannot delete entity, must detach all policies first.',
  },
];

/** IAM groups and their members. Names are unique regardless of case, as in IAM. */
export class IamGroups {
  constructor(
    private readonly store: Store,
    private readonly users: IamUsers,
    private readonly now: () => number = Date.now,
  ) {}

  async createGroup(groupName: string): Promise<IamGroup> {
    const row = { group_name: groupName, group_id: iamId('AGPA', 17), created_at: this.now() };
    const exists = () =>
      new BulwarkError('ResourceAlreadyExists', `Group with name ${groupName} already exists.`, {
        groupName,
      });
    try {
      await this.store.transaction(async (tx) => {
        if (await nameTakenIgnoringCase(tx, IAM_GROUPS_TABLE, 'group_name', groupName))
          throw exists();
        await tx.insert(IAM_GROUPS_TABLE, row);
      });
    } catch (error) {
      if (isBulwarkError(error, 'StoreConstraint')) throw exists();
      throw error;
    }
    return toGroup(row);
  }

  async getGroup(groupName: string): Promise<IamGroup | undefined> {
    const row = await this.store.get(IAM_GROUPS_TABLE, { group_name: groupName });
    return row && toGroup(row);
  }

  /** The group, or IAM's NoSuchEntity. */
  async requireGroup(groupName: string): Promise<IamGroup> {
    const group = await this.getGroup(groupName);
    if (!group) throw noSuchGroup(groupName);
    return group;
  }

  async listGroups(request: IamPageRequest): Promise<IamPage<IamGroup>> {
    const page = await listPage(
      this.store,
      { list: 'ListGroups', table: IAM_GROUPS_TABLE, sortColumn: 'group_name' },
      request,
    );
    return { ...page, items: page.items.map(toGroup) };
  }

  /** Refuses with DeleteConflict while the group has members or policies, as IAM does. */
  async deleteGroup(groupName: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.get(IAM_GROUPS_TABLE, { group_name: groupName })))
        throw noSuchGroup(groupName);
      for (const reference of GROUP_REFERENCES)
        if ((await tx.count(reference.table, reference.where(groupName))) > 0)
          throw new BulwarkError('DeleteConflict', reference.conflict, { groupName });
      await tx.delete(IAM_GROUPS_TABLE, { group_name: groupName });
    });
  }

  /** Adding a member again changes nothing, as in IAM. */
  async addUser(groupName: string, userName: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.get(IAM_GROUPS_TABLE, { group_name: groupName })))
        throw noSuchGroup(groupName);
      if (!(await tx.get(IAM_USERS_TABLE, { user_name: userName }))) throw noSuchUser(userName);
      const membership = { group_name: groupName, user_name: userName };
      if (await tx.get(IAM_GROUP_MEMBERS_TABLE, membership)) return;
      if ((await tx.count(IAM_GROUP_MEMBERS_TABLE, { user_name: userName })) >= MAX_GROUPS_PER_USER)
        throw new BulwarkError(
          'LimitExceeded',
          `Cannot exceed quota for GroupsPerUser: ${MAX_GROUPS_PER_USER}`,
          { userName },
        );
      await tx.insert(IAM_GROUP_MEMBERS_TABLE, membership);
    });
  }

  async removeUser(groupName: string, userName: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.get(IAM_GROUPS_TABLE, { group_name: groupName })))
        throw noSuchGroup(groupName);
      if (!(await tx.get(IAM_USERS_TABLE, { user_name: userName }))) throw noSuchUser(userName);
      if (
        !(await tx.delete(IAM_GROUP_MEMBERS_TABLE, { group_name: groupName, user_name: userName }))
      )
        throw new BulwarkError(
          'NoSuchEntity',
          `The user with name ${userName} is not in the group with name ${groupName}.`,
          { groupName, userName },
        );
    });
  }

  /** GetGroup's users, a page at a time. */
  async listMembers(groupName: string, request: IamPageRequest): Promise<IamPage<IamUser>> {
    await this.requireGroup(groupName);
    const page = await listPage(
      this.store,
      {
        list: `GetGroup:${groupName}`,
        table: IAM_GROUP_MEMBERS_TABLE,
        where: { group_name: groupName },
        sortColumn: 'user_name',
      },
      request,
    );
    const users = await Promise.all(
      page.items.map((row) => this.users.getUser(row.user_name as string)),
    );
    return { ...page, items: users.filter((user): user is IamUser => user !== undefined) };
  }

  async listGroupsForUser(userName: string, request: IamPageRequest): Promise<IamPage<IamGroup>> {
    await this.users.requireUser(userName);
    const page = await listPage(
      this.store,
      {
        list: `ListGroupsForUser:${userName}`,
        table: IAM_GROUP_MEMBERS_TABLE,
        where: { user_name: userName },
        sortColumn: 'group_name',
      },
      request,
    );
    const groups = await Promise.all(
      page.items.map((row) => this.getGroup(row.group_name as string)),
    );
    return { ...page, items: groups.filter((group): group is IamGroup => group !== undefined) };
  }

  /** Every group the user is in (for policy evaluation: their policies apply to the user). */
  async groupNamesOf(userName: string): Promise<string[]> {
    const rows = await this.store.list(IAM_GROUP_MEMBERS_TABLE, { where: { user_name: userName } });
    return rows.map((row) => row.group_name as string);
  }
}
