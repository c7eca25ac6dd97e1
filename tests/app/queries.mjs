// Runs NextCRM's own queries (actions/ and app/api/ of the app at its PostgreSQL schema) through its
// Prisma 7 client against a migrated database, and compares what they return with what the source
// documents say (EXPECTED: a JSON file of relations, counts and filter counts by UUID). The app's
// writes run inside one transaction that is rolled back.
// Usage: DATABASE_URL=postgresql://... EXPECTED=expected.json node queries.mjs   (exit 0 ok, 1 failures)
// ONLY=<regular expression> runs only the queries and writes whose names it matches.
import { readFileSync } from "node:fs";
import { PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import { Pool } from "pg";

const expected = JSON.parse(readFileSync(process.env.EXPECTED, "utf8"));
const pool = new Pool({ connectionString: process.env.DATABASE_URL });
const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
const failures = [];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ROLLBACK = new Error("rollback");
const PER_RELATION = 40;
const only = new RegExp(process.env.ONLY ?? ""); // parents per relation: every edge case of the test datasets, in seconds

function oneLine(error) {
  const lines = String(error?.message ?? error).split("\n").map((l) => l.trim()).filter(Boolean);
  return `${error?.code ?? error?.name ?? "Error"}: ${lines.filter((l) => !/^Invalid `|^→?\s*\d+\s/.test(l)).pop() ?? lines.pop()}`;
}

async function check(name, run) {
  if (!only.test(name)) return;
  let problem;
  try {
    problem = await run();
  } catch (error) {
    problem = oneLine(error);
  }
  if (problem) failures.push(`${name}: ${problem}`);
  console.log(`${problem ? "FAIL" : "ok  "} ${name}${problem ? `: ${problem}` : ""}`);
}

/** The difference between two sets of ids, as text; null when equal. */
function differ(what, got, want) {
  const g = new Set(got), w = new Set(want);
  const extra = [...g].filter((x) => !w.has(x)), missing = [...w].filter((x) => !g.has(x));
  if (got.length !== g.size) return `${what}: ${got.length - g.size} repeated`;
  return extra.length || missing.length ? `${what}: ${missing.length} missing (${missing.slice(0, 2)}), ${extra.length} extra (${extra.slice(0, 2)})` : null;
}

/** Up to PER_RELATION parents that have the relation in the source, and a few that do not. */
function some(parents, relation) {
  const rel = expected.relations[relation];
  const all = expected.parents[parents];
  return [...all.filter((id) => rel[id]?.length).slice(0, PER_RELATION), ...all.filter((id) => !rel[id]?.length).slice(0, 10)];
}

/** Runs a per-parent query for some parents, comparing with the relation the source holds. */
async function perParent(parents, relation, query) {
  const rel = expected.relations[relation];
  for (const id of some(parents, relation)) {
    const problem = differ(`${parents} ${id}`, await query(id), rel[id] ?? []);
    if (problem) return problem;
  }
}

const sorted = (values, dir) => values.every((v, i) => i === 0 || (dir === "asc" ? values[i - 1] <= v : values[i - 1] >= v));
const nullsFirstDesc = (d) => (d === null ? Infinity : d.getTime()); // PostgreSQL: NULLS FIRST in DESC

async function reads() {
  // actions/crm/get-account.ts: one account with everything, for every account
  await check("getAccount: contacts, opportunities, documents, watchers of every account", async () => {
    const accounts = new Set(["account.contacts", "account.opportunities", "account.documents", "account.watchers"].flatMap((r) => some("account", r)));
    for (const id of accounts) {
      const a = await prisma.crm_Accounts.findFirst({
        where: { id },
        include: {
          contacts: true, opportunities: true, invoices: true, assigned_to_user: { select: { name: true } },
          documents: { include: { document: { select: { id: true, document_name: true, document_type: true, document_file_url: true,
            document_file_mimeType: true, createdAt: true, created_by: { select: { id: true, name: true, email: true } } } } } },
          watchers: { include: { user: { select: { id: true, name: true, email: true, avatar: true } } } },
        },
      });
      if (!a) return `account ${id} not found`;
      for (const [rel, got] of [
        ["account.contacts", a.contacts.map((c) => c.id)],
        ["account.opportunities", a.opportunities.map((o) => o.id)],
        ["account.documents", a.documents.map((d) => d.document.id)],
        ["account.watchers", a.watchers.map((w) => w.user.id)],
      ]) {
        const problem = differ(`${rel} of ${id}`, got, expected.relations[rel][id] ?? []);
        if (problem) return problem;
      }
    }
  });
  // actions/crm/get-contacts-by-accountId.ts
  await check("getContactsByAccountId (where accountsIDs)", () =>
    perParent("account", "account.contacts", async (id) =>
      (await prisma.crm_Contacts.findMany({ where: { accountsIDs: id }, include: { assigned_to_user: { select: { name: true } },
        crate_by_user: { select: { name: true } }, assigned_accounts: true } })).map((c) => c.id)));
  // actions/crm/get-opportunities-with-includes-by-accountId.ts (orderBy created_on desc)
  await check("getOpportunitiesFullByAccountId (orderBy created_on desc)", () =>
    perParent("account", "account.opportunities", async (id) => {
      const rows = await prisma.crm_Opportunities.findMany({
        where: { account: id },
        include: { assigned_account: { select: { name: true } }, assigned_sales_stage: { select: { name: true } }, assigned_to_user: { select: { name: true } } },
        orderBy: { created_on: "desc" },
      });
      const dates = rows.map((r) => r.created_on).filter((d) => d !== null).map((d) => d.getTime());
      if (!sorted(dates, "desc")) throw new Error(`account ${id}: opportunities not in created_on desc order`);
      if (rows.some((r) => r.assigned_account?.name === undefined)) throw new Error(`account ${id}: assigned_account not included`);
      return rows.map((r) => r.id);
    }));
  // actions/documents/get-documents-by-*.ts: documents through the junction tables (some)
  for (const [parents, relation, link, key] of [
    ["account", "account.documents", "accounts", "account_id"],
    ["contact", "contact.documents", "contacts", "contact_id"],
    ["opportunity", "opportunity.documents", "opportunities", "opportunity_id"],
    ["lead", "lead.documents", "leads", "lead_id"],
    ["task", "task.documents", "tasks", "task_id"],
  ])
    await check(`documents of a ${parents} (where ${link}: some ${key})`, () =>
      perParent(parents, relation, async (id) =>
        (await prisma.documents.findMany({
          where: { [link]: { some: { [key]: id } } },
          include: { created_by: { select: { id: true, name: true, email: true } }, assigned_to_user: { select: { id: true, name: true, email: true } } },
          orderBy: { date_created: "desc" },
        })).map((d) => d.id)));
  // actions/crm/get-contacts-by-opportunityId.ts
  await check("getContactsByOpportunityId (opportunities: some)", () =>
    perParent("opportunity", "opportunity.contacts", async (id) =>
      (await prisma.crm_Contacts.findMany({ where: { opportunities: { some: { opportunity_id: id } } },
        include: { assigned_to_user: { select: { name: true } }, crate_by_user: { select: { name: true } }, assigned_accounts: true } })).map((c) => c.id)));
  // the same relation from the other side: an opportunity's contacts include
  await check("opportunity include contacts (junction, other side)", () =>
    perParent("opportunity", "opportunity.contacts", async (id) =>
      (await prisma.crm_Opportunities.findUnique({ where: { id }, include: { contacts: { include: { contact: true } } } })).contacts.map((c) => c.contact.id)));
  // actions/projects/get-kanban-data.ts / get-board.ts: sections by position asc, tasks by position desc
  await check("getKanbanData: sections of every board and their tasks", async () => {
    for (const id of some("board", "board.sections")) {
      const board = await prisma.boards.findUnique({ where: { id }, include: { assigned_user: { select: { name: true } },
        watchers: { include: { user: { select: { id: true, name: true, email: true, avatar: true } } } } } });
      if (!board) return `board ${id} not found`;
      const sections = await prisma.sections.findMany({ where: { board: id }, orderBy: { position: "asc" }, include: { tasks: { orderBy: { position: "desc" } } } });
      const problem = differ(`sections of board ${id}`, sections.map((s) => s.id), expected.relations["board.sections"][id] ?? []);
      if (problem) return problem;
      if (!sorted(sections.map((s) => s.position ?? Infinity), "asc")) return `board ${id}: sections not by position`;
      for (const s of sections) {
        const p = differ(`tasks of section ${s.id}`, s.tasks.map((t) => t.id), expected.relations["section.tasks"][s.id] ?? []);
        if (p) return p;
        if (!sorted(s.tasks.map((t) => t.position ?? Infinity), "desc")) return `section ${s.id}: tasks not by position desc`;
      }
    }
  });
  // a user's watched boards (BoardWatchers) and tasks (actions/projects/get-user-tasks.ts)
  await check("user with watching_boards and tasks", async () => {
    for (const id of new Set([...some("user", "user.watching_boards"), ...some("user", "user.tasks")])) {
      const u = await prisma.users.findUnique({ where: { id }, include: { watching_boards: { include: { board: true } }, tasks: true } });
      const problem = differ(`watched boards of ${id}`, u.watching_boards.map((w) => w.board.id), expected.relations["user.watching_boards"][id] ?? [])
        ?? differ(`tasks of ${id}`, u.tasks.map((t) => t.id), expected.relations["user.tasks"][id] ?? []);
      if (problem) return problem;
    }
  });
  // Boards.sharedWith (uuid[]): has
  await check("boards shared with a user (sharedWith: has)", () =>
    perParent("user", "user.shared_boards", async (id) => (await prisma.boards.findMany({ where: { sharedWith: { has: id } } })).map((b) => b.id)));
  // actions/dashboard/get-*-count.ts: count() of each model against the source documents loaded
  await check("dashboard counts against the source", async () => {
    const pairs = [["crm_Accounts", prisma.crm_Accounts], ["crm_Contacts", prisma.crm_Contacts], ["crm_Leads", prisma.crm_Leads],
      ["crm_Opportunities", prisma.crm_Opportunities], ["crm_Contracts", prisma.crm_Contracts], ["Documents", prisma.documents],
      ["Tasks", prisma.tasks], ["Boards", prisma.boards], ["Invoices", prisma.invoices], ["Users", prisma.users]];
    const wrong = [];
    for (const [c, d] of pairs) {
      const n = await d.count();
      if (n !== expected.counts[c]) wrong.push(`${c} ${n} != ${expected.counts[c]}`);
    }
    return wrong.length ? wrong.join(", ") : null;
  });
  // enum filters: get-active-users-count.ts, tasks not COMPLETE (get-tasks-past-due.ts), opportunity status
  await check("enum filters: users ACTIVE, tasks not COMPLETE, opportunities ACTIVE", async () => {
    const got = {
      "users.ACTIVE": await prisma.users.count({ where: { userStatus: "ACTIVE" } }),
      "tasks.notComplete": await prisma.tasks.count({ where: { taskStatus: { not: "COMPLETE" } } }),
      "opportunities.ACTIVE": await prisma.crm_Opportunities.count({ where: { status: "ACTIVE" } }),
    };
    const wrong = Object.entries(got).filter(([k, v]) => v !== expected.filters[k]);
    return wrong.length ? wrong.map(([k, v]) => `${k} ${v} != ${expected.filters[k]}`).join(", ") : null;
  });
  await check("groupBy account status, _count", async () => {
    const groups = await prisma.crm_Accounts.groupBy({ by: ["status"], _count: { _all: true } });
    const got = Object.fromEntries(groups.map((g) => [String(g.status), g._count._all]));
    return JSON.stringify(got, Object.keys(got).sort()) === JSON.stringify(expected.filters["accounts.status"], Object.keys(got).sort()) ? null
      : `${JSON.stringify(got)} != ${JSON.stringify(expected.filters["accounts.status"])}`;
  });
  // actions/projects/get-tasks-past-due.ts: dates, enum not, comments ordered by createdAt desc
  await check("getTasksPastDue (dueDateAt lte now, gt/lt a week, not COMPLETE, comments)", async () => {
    const today = new Date(new Date().setUTCHours(0, 0, 0, 0));
    for (const userId of expected.parents.user.slice(0, 50)) {
      const include = { comments: { select: { id: true, comment: true, createdAt: true, assigned_user: { select: { id: true, name: true, avatar: true } } }, orderBy: { createdAt: "desc" } } };
      const past = await prisma.tasks.findMany({ where: { AND: [{ user: userId }, { dueDateAt: { lte: new Date() } }, { taskStatus: { not: "COMPLETE" } }] }, include });
      await prisma.tasks.findMany({ where: { AND: [{ user: userId }, { dueDateAt: { gt: today, lt: new Date(today.getTime() + 7 * 864e5) } }, { taskStatus: { not: "COMPLETE" } }] }, include });
      for (const t of past) {
        if (!(t.dueDateAt <= new Date()) || t.taskStatus === "COMPLETE") return `task ${t.id} does not match the filter`;
        if (!sorted(t.comments.map((c) => nullsFirstDesc(c.createdAt)), "desc")) return `task ${t.id}: comments not by createdAt desc`;
      }
    }
  });
  // _count of relations, every/none (Prisma features the app's pages lean on through includes)
  await check("_count of an account's relations equals the includes", async () => {
    for (const id of expected.parents.account.slice(0, 100)) {
      const a = await prisma.crm_Accounts.findUnique({ where: { id }, select: { _count: { select: { contacts: true, documents: true, watchers: true, opportunities: true } } } });
      for (const [k, rel] of [["contacts", "account.contacts"], ["documents", "account.documents"], ["watchers", "account.watchers"], ["opportunities", "account.opportunities"]])
        if (a._count[k] !== (expected.relations[rel][id] ?? []).length) return `account ${id} _count.${k} ${a._count[k]} != ${(expected.relations[rel][id] ?? []).length}`;
    }
  });
  await check("every / none on a junction relation", async () => {
    const none = await prisma.crm_Accounts.count({ where: { documents: { none: {} } } });
    const want = expected.parents.account.filter((id) => !(expected.relations["account.documents"][id] ?? []).length).length;
    return none === want ? null : `accounts with no documents ${none} != ${want}`;
  });
  // actions/fulltext/get-search-results.ts: contains, mode insensitive
  await check("fulltext search (contains, mode insensitive)", async () => {
    const a = await prisma.crm_Accounts.findFirst({ where: { name: { not: "" } }, orderBy: { id: "asc" } });
    const term = a.name.slice(0, 4).toUpperCase() === a.name.slice(0, 4) ? a.name.slice(0, 4).toLowerCase() : a.name.slice(0, 4).toUpperCase();
    const found = await prisma.crm_Accounts.findMany({ where: { OR: [{ description: { contains: term, mode: "insensitive" } }, { name: { contains: term, mode: "insensitive" } }, { email: { contains: term, mode: "insensitive" } }] } });
    return found.some((f) => f.id === a.id) ? null : `${JSON.stringify(term)} did not find ${a.id}`;
  });
}

/** The app's writes, in one transaction rolled back at the end. */
async function writes() {
  const problems = [];
  const step = async (tx, name, run) => {
    if (!only.test(`write: ${name}`)) return;
    try {
      const problem = await run(tx);
      console.log(`${problem ? "FAIL" : "ok  "} write: ${name}${problem ? `: ${problem}` : ""}`);
      if (problem) problems.push(`write ${name}: ${problem}`);
    } catch (error) {
      console.log(`FAIL write: ${name}: ${oneLine(error)}`);
      problems.push(`write ${name}: ${oneLine(error)}`);
    }
  };
  const acc = expected.parents.account.find((id) => (expected.relations["account.documents"][id] ?? []).length);
  const user = expected.parents.user.find((u) => !(expected.relations["account.watchers"][acc] ?? []).includes(u));
  const task = expected.parents.task.find((id) => (expected.relations["task.documents"][id] ?? []).length);
  const doc = expected.relations["task.documents"][task][0];
  const opp = expected.parents.opportunity.find((id) => (expected.relations["opportunity.contacts"][id] ?? []).length);
  const section = expected.parents.section.find((id) => (expected.relations["section.tasks"][id] ?? []).length);
  try {
    await prisma.$transaction(async (tx) => {
      // each step in a savepoint so one failure does not hide the next
      const sp = async (name, run) => {
        await tx.$executeRawUnsafe("SAVEPOINT s");
        await step(tx, name, run);
        await tx.$executeRawUnsafe("ROLLBACK TO SAVEPOINT s");
      };
      await sp("users.create as lib/auth.ts (v, language, created_on from defaults)", async () => {
        const u = await tx.users.create({ data: { email: "new.user@example.test", name: "New", avatar: "", is_admin: false, is_account_admin: false, lastLoginAt: new Date(), userStatus: "PENDING" } });
        if (!UUID.test(u.id) || u.v !== 0 || u.userLanguage !== "en" || !(u.created_on instanceof Date)) return JSON.stringify(u);
      });
      await sp("users.create with a migrated email fails on the unique index (P2002)", async () => {
        const email = (await tx.users.findFirst({ where: { email: { not: "" } } })).email;
        try {
          await tx.users.create({ data: { email, name: "Dup" } });
          return "a second user with the same email was created";
        } catch (error) {
          return error.code === "P2002" ? null : oneLine(error);
        }
      });
      await sp("users.upsert by email (the unique index) updates the migrated user", async () => {
        const u = await tx.users.findFirst({ where: { email: { not: "" } } });
        const up = await tx.users.upsert({ where: { email: u.email }, update: { name: "Renamed" }, create: { email: u.email } });
        return up.id === u.id && up.name === "Renamed" ? null : `upsert gave ${up.id}, not ${u.id}`;
      });
      await sp("crm_Accounts.create (app/api/crm/account POST)", async () => {
        const a = await tx.crm_Accounts.create({ data: { v: 0, createdBy: user, updatedBy: user, name: "Acme new", assigned_to: user, status: "Active" } });
        if (!UUID.test(a.id) || !(a.createdAt instanceof Date) || !(a.updatedAt instanceof Date) || a.type !== "Customer") return JSON.stringify(a);
      });
      await sp("crm_Accounts.update of a migrated account (PUT) and watch (AccountWatchers create)", async () => {
        await tx.crm_Accounts.update({ where: { id: acc }, data: { v: 0, updatedBy: user, name: "Updated", status: "Active" } });
        const a = await tx.crm_Accounts.update({ where: { id: acc }, data: { watchers: { create: { user_id: user } } }, include: { watchers: true } });
        return a.watchers.length === (expected.relations["account.watchers"][acc] ?? []).length + 1 ? null : `${a.watchers.length} watchers`;
      });
      await sp("unwatch: AccountWatchers delete by account_id_user_id of a migrated pair", async () => {
        const w = await tx.accountWatchers.findFirst();
        await tx.accountWatchers.delete({ where: { account_id_user_id: { account_id: w.account_id, user_id: w.user_id } } });
      });
      await sp("watching twice fails on the junction's key (P2002)", async () => {
        const w = await tx.accountWatchers.findFirst();
        try {
          await tx.accountWatchers.create({ data: { account_id: w.account_id, user_id: w.user_id } });
          return "a repeated AccountWatchers pair was created";
        } catch (error) {
          return error.code === "P2002" ? null : oneLine(error);
        }
      });
      await sp("crm_Contacts.create connecting a migrated account and user", async () => {
        const c = await tx.crm_Contacts.create({ data: { v: 0, createdBy: user, updatedBy: user, assigned_accounts: { connect: { id: acc } },
          assigned_to_user: { connect: { id: user } }, birthday: "1/2/1990", first_name: "A", last_name: "B", type: "Customer" }, include: { assigned_accounts: true } });
        return c.assigned_accounts?.id === acc && c.status === true ? null : JSON.stringify(c);
      });
      await sp("tasks.create in a migrated section (create-task/[boardId])", async () => {
        const n = await tx.tasks.count({ where: { section } });
        const t = await tx.tasks.create({ data: { v: 0, priority: "normal", title: "New task", content: "", section, createdBy: user, updatedBy: user, position: n, user, taskStatus: "ACTIVE" } });
        if (n !== (expected.relations["section.tasks"][section] ?? []).length) return `count where section ${n}`;
        return UUID.test(t.id) && t.lastEditedAt instanceof Date && t.likes === 0n ? null : JSON.stringify(t, (k, v) => (typeof v === "bigint" ? `${v}n` : v));
      });
      await sp("boards.create with sharedWith, then its Backlog section (app/api/projects POST)", async () => {
        const n = await tx.boards.count();
        const b = await tx.boards.create({ data: { v: 0, user, title: "T", description: "D", position: n, visibility: "private", sharedWith: [user], createdBy: user } });
        const s = await tx.sections.create({ data: { v: 0, board: b.id, title: "Backlog", position: 0 } });
        return UUID.test(b.id) && UUID.test(s.id) && b.sharedWith[0] === user && b.createdAt instanceof Date ? null : JSON.stringify(b);
      });
      await sp("kanban move of a migrated task to another section (update-kanban-position)", async () => {
        const other = expected.parents.section.find((id) => id !== section);
        const t = await tx.tasks.update({ where: { id: expected.relations["section.tasks"][section][0] }, data: { section: other, position: 3, updatedBy: user } });
        return t.section === other && t.position === 3n ? null : JSON.stringify(t, (k, v) => (typeof v === "bigint" ? `${v}n` : v));
      });
      await sp("mark task as done; tasksComments.create; board watch", async () => {
        await tx.tasks.update({ where: { id: task }, data: { taskStatus: "COMPLETE", updatedBy: user } });
        const s = await tx.sections.findFirst({ where: { tasks: { some: { id: task } } } });
        if (s) await tx.boards.update({ where: { id: s.board }, data: { watchers: { create: { user_id: user } } } });
        const c = await tx.tasksComments.create({ data: { v: 0, comment: "hi", task, user } });
        return UUID.test(c.id) && c.createdAt instanceof Date ? null : JSON.stringify(c);
      });
      await sp("documentsToTasks: disconnect a migrated pair (document_id_task_id), assign it again", async () => {
        await tx.documentsToTasks.delete({ where: { document_id_task_id: { document_id: doc, task_id: task } } });
        await tx.documentsToTasks.create({ data: { document_id: doc, task_id: task } });
        const docs = await tx.documents.findMany({ where: { tasks: { some: { task_id: task } } } });
        return differ("documents of the task", docs.map((d) => d.id), expected.relations["task.documents"][task]);
      });
      await sp("contacts unlink-opportunity (contact_id_opportunity_id)", async () => {
        const contact = expected.relations["opportunity.contacts"][opp][0];
        await tx.contactsToOpportunities.delete({ where: { contact_id_opportunity_id: { contact_id: contact, opportunity_id: opp } } });
      });
      await sp("documents.create (uploadthing) and connect it to a migrated account (updateDocuments)", async () => {
        const d = await tx.documents.create({ data: { v: 0, document_name: "f.pdf", description: "new document", document_file_url: "https://x", key: "k", size: 10,
          document_file_mimeType: "application/pdf", createdBy: user, assigned_user: user } });
        const a = await tx.crm_Accounts.update({ where: { id: acc }, data: { documents: { deleteMany: {}, create: [{ document_id: d.id }, { document_id: doc }] } }, include: { documents: true } });
        return a.documents.length === 2 && d.date_created instanceof Date ? null : `${a.documents.length} documents`;
      });
      await sp("crm_Opportunities.create (budget, expected_revenue as numbers)", async () => {
        const o = await tx.crm_Opportunities.create({ data: { account: acc, assigned_to: user, budget: 1000, created_by: user, last_activity_by: user, updatedBy: user,
          expected_revenue: 2000, name: "Deal", status: "ACTIVE" } });
        return o.budget === 1000n && o.v === 0 && o.created_on instanceof Date ? null : JSON.stringify(o, (k, v) => (typeof v === "bigint" ? `${v}n` : v));
      });
      await sp("update every migrated account (v, updatedAt) through the client", async () => {
        const n = await tx.crm_Accounts.updateMany({ data: { v: 1 } });
        return n.count === expected.counts.crm_Accounts ? null : `${n.count} updated`;
      });
      await sp("delete a migrated account (its junction rows cascade, contacts set null)", async () => {
        await tx.crm_Accounts.delete({ where: { id: acc } });
        const left = await tx.documentsToAccounts.count({ where: { account_id: acc } });
        const contacts = await tx.crm_Contacts.count({ where: { accountsIDs: acc } });
        return left || contacts ? `${left} junction rows, ${contacts} contacts still point at it` : null;
      });
      throw ROLLBACK;
    }, { timeout: 120000 });
  } catch (error) {
    if (error !== ROLLBACK) problems.push(`transaction: ${oneLine(error)}`);
  }
  failures.push(...problems);
}

try {
  await reads();
  await writes();
} finally {
  await prisma.$disconnect();
  await pool.end();
}
console.log(`queries: ${failures.length} failure(s)`);
process.exitCode = failures.length ? 1 : 0;
