// Reads a migrated database through NextCRM's own Prisma 7 client, built as the app's lib/prisma.ts
// builds it, and checks every row of every model against schema.prisma: what the app would read.
// Usage: DATABASE_URL=postgresql://... node check.mjs   (exit 0 all readable, 1 failures, 2 usage)
import { existsSync, readFileSync } from "node:fs";
import { Prisma, PrismaClient } from "@prisma/client";
import { PrismaPg } from "@prisma/adapter-pg";
import { Pool } from "pg";

const PAGE = 1000;
const SHOWN_PER_FIELD = 10;
const DMMF_FILE = new URL("./generated/dmmf.json", import.meta.url);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The instants the client can write back ("Provided Date object is invalid" outside them).
const FIRST_INSTANT = Date.parse("0001-01-01T00:00:00.000Z");
const LAST_INSTANT = Date.parse("9999-12-31T23:59:59.999Z");

/** What a scalar of each Prisma type must look like when the client returns it; null when fine. */
const SCALAR_RULES = {
  String: (v, field) =>
    typeof v !== "string" ? "not a string"
      : field.nativeType?.[0] === "Uuid" && !UUID.test(v) ? "not a uuid" : null,
  Int: (v) => (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? null : "not a 32-bit integer"),
  BigInt: (v) => (typeof v === "bigint" ? null : `a ${typeof v}, not a bigint`),
  Float: (v) => (typeof v === "number" ? null : "not a number"),
  Boolean: (v) => (typeof v === "boolean" ? null : "not a boolean"),
  DateTime: (v) =>
    !(v instanceof Date) ? "not a Date"
      : Number.isNaN(v.getTime()) ? "not a valid Date, the app cannot show or save this record"
        : v.getTime() < FIRST_INSTANT || v.getTime() > LAST_INSTANT ? "outside 0001-01-01..9999-12-31" : null,
  Json: (v) => (v === undefined ? "missing" : null),
};

const failures = [];
const fail = (model, key, field, problem, at = null) => failures.push({ model, key, field, problem, at });

/** Prisma's error in one line: its code and the sentence that says what went wrong. */
function prismaError(error) {
  const lines = String(error?.message ?? error).split("\n").map((l) => l.trim()).filter(Boolean);
  const said = lines.filter((l) => !/^Invalid `.*` invocation/.test(l) && !/^→?\s*\d+\s/.test(l)).pop() ?? lines.pop();
  return `${error?.code ?? error?.name ?? "Error"}: ${said}`;
}

const show = (v) =>
  typeof v === "bigint" ? `${v}n` : v instanceof Date ? (Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString()) : JSON.stringify(v);

/** The full DMMF saved beside the client; null when it is missing or not the client's own. */
function loadDatamodel() {
  if (!existsSync(DMMF_FILE)) return null;
  const datamodel = JSON.parse(readFileSync(DMMF_FILE, "utf8"));
  const names = (models) => models.map((m) => m.name).sort().join();
  return names(datamodel.models) === names(Prisma.dmmf.datamodel.models) ? datamodel : null;
}

/** Each model's table, key, scalars and relations, as the DMMF the client was generated from says. */
function describe(model) {
  const scalars = model.fields.filter((f) => f.kind !== "object");
  return {
    name: model.name,
    table: model.dbName ?? model.name,
    delegate: model.name[0].toLowerCase() + model.name.slice(1),
    key: model.primaryKey?.fields ?? scalars.filter((f) => f.isId).map((f) => f.name),
    scalars,
    relations: model.fields.filter((f) => f.kind === "object").map((f) => f.name),
  };
}

const keyText = (m, row) => m.key.map((k) => `${k}=${row[k]}`).join(",");
const keyWhere = (m, row) => Object.fromEntries(m.key.map((k) => [k, row[k]]));

/** Rows after `last` in key order: (a > x) or (a = x and b > y) ... */
function after(m, last) {
  if (!last) return {};
  return {
    OR: m.key.map((k, i) => ({
      ...Object.fromEntries(m.key.slice(0, i).map((p) => [p, last[p]])),
      [k]: { gt: last[k] },
    })),
  };
}

function checkValue(m, row, field, enums) {
  const value = row[field.name];
  const problem = (() => {
    if (value === null || value === undefined)
      return field.isRequired && !field.isList ? "null in a required field" : field.isList ? "null list" : null;
    const check = (v) =>
      v === null ? "null element"
        : field.kind === "enum" ? (enums.get(field.type).has(v) ? null : `not a label of enum ${field.type}`)
          : (SCALAR_RULES[field.type] ?? (() => `type ${field.type} is not checked`))(v, field);
    if (field.isList) {
      if (!Array.isArray(value)) return "not a list";
      return value.map(check).find(Boolean) ?? null;
    }
    return check(value);
  })();
  if (problem) fail(m.name, keyText(m, row), field.name, value == null ? problem : `${problem}: ${show(value)}`, { m, row, field });
}

/** What PostgreSQL holds where the client returned an Invalid Date (the client gives no error). */
async function addStoredText(prisma, failure) {
  const { m, row, field } = failure.at;
  const column = (f) => `"${(m.scalars.find((s) => s.name === f)?.dbName ?? f).replaceAll('"', '""')}"`;
  const where = m.key.map((k, i) => `${column(k)}::text = $${i + 1}`).join(" AND ");
  try {
    const [stored] = await prisma.$queryRawUnsafe(
      `SELECT ${column(field.name)}::text AS v FROM "${m.table.replaceAll('"', '""')}" WHERE ${where}`,
      ...m.key.map((k) => String(row[k])));
    failure.problem += ` (PostgreSQL holds ${JSON.stringify(stored?.v)})`;
  } catch {
    // the row's stored text is a courtesy; the failure stands without it
  }
}

/** A page the client refused: read it field by field (checking what it returns), then the fields
 * it refuses key by key, to name each row and field it cannot read. */
async function explainPage(prisma, m, last, enums) {
  const delegate = prisma[m.delegate];
  const orderBy = m.key.map((k) => ({ [k]: "asc" }));
  const keySelect = Object.fromEntries(m.key.map((k) => [k, true]));
  const keys = await delegate.findMany({ where: after(m, last), orderBy, take: PAGE, select: keySelect });
  for (const field of m.scalars) {
    const select = { ...keySelect, [field.name]: true };
    try {
      const rows = await delegate.findMany({ where: after(m, last), orderBy, take: PAGE, select });
      for (const row of rows) checkValue(m, row, field, enums);
      continue;
    } catch {
      // this field is one the page cannot be read through: find its rows
    }
    let failed = 0;
    for (const row of keys) {
      try {
        await delegate.findFirst({ where: keyWhere(m, row), select });
      } catch (error) {
        failed += 1;
        fail(m.name, keyText(m, row), field.name, prismaError(error));
      }
    }
    if (failed === 0) fail(m.name, "-", field.name, "a page fails to read but no single row does");
  }
  return keys;
}

/** Reads every row in key order and checks every scalar; returns the rows read. */
async function readEveryRow(prisma, m, enums) {
  const delegate = prisma[m.delegate];
  const orderBy = m.key.map((k) => ({ [k]: "asc" }));
  let last = null;
  let read = 0;
  for (;;) {
    let page;
    try {
      page = await delegate.findMany({ where: after(m, last), orderBy, take: PAGE });
      for (const row of page) for (const field of m.scalars) checkValue(m, row, field, enums);
    } catch (error) {
      const before = failures.length;
      try {
        page = await explainPage(prisma, m, last, enums);
      } catch {
        fail(m.name, "-", "-", prismaError(error));
        return read;
      }
      if (failures.length === before) fail(m.name, "-", "-", prismaError(error));
    }
    read += page.length;
    if (page.length < PAGE) return read;
    last = page[page.length - 1];
  }
}

/** Every relation at once, as a page of the app would; a failure is traced to the relation(s) at fault. */
async function readWithRelations(prisma, m) {
  const delegate = prisma[m.delegate];
  try {
    await delegate.findMany({ take: 50, include: Object.fromEntries(m.relations.map((r) => [r, true])) });
  } catch (error) {
    let named = false;
    for (const relation of m.relations) {
      try {
        await delegate.findMany({ take: 50, include: { [relation]: true } });
      } catch (alone) {
        named = true;
        fail(m.name, "-", relation, `include: ${prismaError(alone)}`);
      }
    }
    if (!named) fail(m.name, "-", "-", `include: ${prismaError(error)}`);
  }
}

async function checkModel(prisma, m, enums) {
  const before = failures.length;
  let count = "?";
  let rows = "?";
  try {
    count = await prisma[m.delegate].count();
  } catch (error) {
    fail(m.name, "-", "-", `count(): ${prismaError(error)}`);
  }
  try {
    const [{ n }] = await prisma.$queryRawUnsafe(`SELECT count(*) AS n FROM "${m.table.replaceAll('"', '""')}"`);
    rows = Number(n);
  } catch (error) {
    fail(m.name, "-", "-", `SELECT count(*) FROM "${m.table}": ${prismaError(error)}`);
  }
  if (count !== "?" && rows !== "?" && count !== rows)
    fail(m.name, "-", "-", `count() says ${count}, the table holds ${rows} rows`);
  if (!m.key.length) fail(m.name, "-", "-", "no primary key to read the rows in order by");
  const read = m.key.length ? await readEveryRow(prisma, m, enums) : 0;
  for (const failure of failures.slice(before)) if (failure.at?.field.type === "DateTime") await addStoredText(prisma, failure);
  if (rows !== "?" && read !== rows) fail(m.name, "-", "-", `read ${read} rows paged by key, the table holds ${rows}`);
  await readWithRelations(prisma, m);
  const problems = failures.length - before;
  console.log(
    `${problems ? "FAIL" : "ok  "} ${m.name.padEnd(32)} rows ${String(rows).padStart(7)}  count() ${String(count).padStart(7)}` +
      `  read ${String(read).padStart(7)}  relations ${m.relations.length}` + (problems ? `  ${problems} problem(s)` : ""),
  );
  return read;
}

/** The app's own queries (NextCRM's actions/), each with what its result must hold. */
function appQueries(prisma) {
  const anyId = "00000000-0000-0000-0000-000000000000";
  const userSummary = { select: { id: true, name: true, email: true, avatar: true } };
  return [
    ["crm_Accounts", "accounts with their contacts, opportunities and watchers", async () => {
      const accounts = await prisma.crm_Accounts.findMany({
        include: {
          assigned_to_user: { select: { name: true } },
          contacts: { select: { first_name: true, last_name: true } },
          opportunities: true,
          watchers: { include: { user: userSummary } },
        },
        orderBy: { createdAt: "desc" },
      });
      const total = await prisma.crm_Accounts.count();
      if (accounts.length !== total) return `${accounts.length} accounts returned of ${total}`;
    }],
    ["DocumentsToAccounts", "one account with its documents through the junction tables", async () => {
      const link = await prisma.documentsToAccounts.findFirst();
      const accountId = link?.account_id ?? anyId;
      const account = await prisma.crm_Accounts.findFirst({
        where: { id: accountId },
        include: {
          contacts: true,
          opportunities: true,
          documents: {
            include: {
              document: {
                select: {
                  id: true, document_name: true, document_type: true, document_file_url: true,
                  document_file_mimeType: true, createdAt: true, created_by: { select: { id: true, name: true, email: true } },
                },
              },
            },
          },
          invoices: true,
          assigned_to_user: { select: { name: true } },
          watchers: { include: { user: userSummary } },
        },
      });
      const documents = await prisma.documents.findMany({
        where: { accounts: { some: { account_id: accountId } } },
        include: { created_by: { select: { id: true, name: true, email: true } }, assigned_to_user: { select: { id: true, name: true, email: true } } },
        orderBy: { date_created: "desc" },
      });
      const links = await prisma.documentsToAccounts.count({ where: { account_id: accountId } });
      if (link && !account) return `account ${accountId} named by DocumentsToAccounts not found`;
      if (link && account.documents.length !== links) return `account ${accountId}: ${account.documents.length} documents of ${links} links`;
      if (documents.length !== links) return `documents of account ${accountId} via some: ${documents.length} of ${links} links`;
    }],
    ["Users", "a user with boards, tasks and watched boards", async () => {
      const link = await prisma.boardWatchers.findFirst();
      const userId = link?.user_id ?? anyId;
      const user = await prisma.users.findUnique({
        where: { id: userId },
        include: { boards: true, tasks: true, watching_boards: { include: { board: true } }, watching_accounts: true },
      });
      const boards = await prisma.boards.findMany({
        where: { OR: [{ user: userId }, { visibility: "public" }, { watchers: { some: { user_id: userId } } }] },
        include: { assigned_user: { select: { name: true } }, watchers: { include: { user: userSummary } } },
        orderBy: { updatedAt: "desc" },
      });
      const watched = await prisma.boardWatchers.count({ where: { user_id: userId } });
      if (link && !user) return `user ${userId} named by BoardWatchers not found`;
      if (link && user.watching_boards.length !== watched) return `user ${userId}: ${user.watching_boards.length} watched boards of ${watched}`;
      if (link && boards.length < watched) return `user ${userId}: ${boards.length} boards listed, watches ${watched}`;
    }],
    ["Boards", "a board with its sections and their tasks", async () => {
      const section = await prisma.sections.findFirst({ where: { tasks: { some: {} } } });
      const boardId = section?.board ?? anyId;
      const board = await prisma.boards.findFirst({
        where: { id: boardId },
        include: { assigned_user: { select: { name: true } }, watchers: { include: { user: userSummary } } },
      });
      const sections = await prisma.sections.findMany({
        where: { board: boardId }, orderBy: { position: "asc" }, include: { tasks: { orderBy: { position: "desc" } } },
      });
      if (section && !board) return `board ${boardId} of section ${section.id} not found`;
      if (section && !sections.some((s) => s.tasks.length > 0)) return `board ${boardId}: no section returned its tasks`;
    }],
    ["ContactsToOpportunities", "the contacts of an opportunity (some through ContactsToOpportunities)", async () => {
      const link = await prisma.contactsToOpportunities.findFirst();
      const opportunityId = link?.opportunity_id ?? anyId;
      const contacts = await prisma.crm_Contacts.findMany({
        where: { opportunities: { some: { opportunity_id: opportunityId } } },
        include: { assigned_to_user: { select: { name: true } }, crate_by_user: { select: { name: true } }, assigned_accounts: true },
      });
      const links = await prisma.contactsToOpportunities.count({ where: { opportunity_id: opportunityId } });
      if (contacts.length !== links) return `opportunity ${opportunityId}: ${contacts.length} contacts of ${links} links`;
    }],
    ["crm_Accounts", "a case-insensitive contains search", async () => {
      const some = await prisma.crm_Accounts.findFirst({ where: { name: { not: "" } }, orderBy: { id: "asc" } });
      const term = some ? swapCase([...some.name].slice(1, 5).join("")) : "a"; // by code point: no half of a pair
      const search = (fields) => ({ OR: fields.map((f) => ({ [f]: { contains: term, mode: "insensitive" } })) });
      const accounts = await prisma.crm_Accounts.findMany({ where: search(["description", "name", "email"]) });
      await prisma.crm_Opportunities.findMany({ where: search(["description", "name"]) });
      await prisma.crm_Contacts.findMany({ where: search(["last_name", "first_name", "email"]) });
      await prisma.users.findMany({ where: search(["email", "account_name", "name", "username"]) });
      await prisma.tasks.findMany({ where: search(["title", "content"]) });
      await prisma.boards.findMany({ where: search(["title", "description"]) });
      if (some && !accounts.some((a) => a.id === some.id)) return `searching ${JSON.stringify(term)} did not find account ${some.id}`;
    }],
  ];
}

/** Each letter in the other case, where that case maps back to it (not "ß" -> "SS"). */
const swapCase = (text) =>
  [...text]
    .map((c) => {
      const other = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      return [...other].length === 1 && (other.toLowerCase() === c || other.toUpperCase() === c) ? other : c;
    })
    .join("");

async function runAppQueries(prisma) {
  for (const [model, what, query] of appQueries(prisma)) {
    let problem;
    try {
      problem = await query();
    } catch (error) {
      problem = prismaError(error);
    }
    if (problem) fail(model, "-", "-", `app query "${what}": ${problem}`);
    console.log(`${problem ? "FAIL" : "ok  "} app query: ${what}`);
  }
}

/** Every failure, but no more than SHOWN_PER_FIELD rows of one field, then how many there are. */
function printFailures() {
  const perField = new Map();
  for (const f of failures) {
    const group = `model=${f.model} field=${f.field}`;
    perField.set(group, (perField.get(group) ?? 0) + 1);
    if (perField.get(group) <= SHOWN_PER_FIELD) console.log(`FAIL model=${f.model} key=${f.key} field=${f.field}: ${f.problem}`);
  }
  for (const [group, n] of perField)
    if (n > SHOWN_PER_FIELD) console.log(`FAIL ${group}: ${n} rows fail, the first ${SHOWN_PER_FIELD} shown above`);
}

async function main() {
  if (!process.env.DATABASE_URL) {
    console.error("app check: set DATABASE_URL to the migrated database (postgresql://user:password@host:5432/db)");
    return 2;
  }
  const datamodel = loadDatamodel();
  if (!datamodel) {
    console.error("app check: the Prisma client is not generated from schema.prisma; run `npm run generate` in tests/app");
    return 1;
  }
  const enums = new Map(datamodel.enums.map((e) => [e.name, new Set(e.values.map((v) => v.name))]));
  const models = datamodel.models.map(describe);
  const pool = new Pool({ connectionString: process.env.DATABASE_URL });
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  try {
    await prisma.$queryRawUnsafe("SELECT 1");
  } catch (error) {
    console.error(`app check: cannot connect to DATABASE_URL: ${prismaError(error)}`);
    await pool.end();
    return 2;
  }
  try {
    let read = 0;
    for (const m of models) read += await checkModel(prisma, m, enums);
    await runAppQueries(prisma);
    printFailures();
    console.log(`app check: ${models.length} models, ${read} rows read through Prisma ${Prisma.prismaVersion.client}, ` +
      `${failures.length} failure(s)`);
    return failures.length ? 1 : 0;
  } finally {
    await prisma.$disconnect();
    await pool.end(); // the app's pool is its own: the client leaves it open
  }
}

process.exitCode = await main();
