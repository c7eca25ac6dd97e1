// A Prisma generator that saves the DMMF that `prisma generate` hands to every generator:
// the generated client keeps only a trimmed copy (no required flags, lists, native types or
// enum values), and check.mjs needs all of them to judge each value the client returns.
import { writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import helper from "@prisma/generator-helper";

helper.generatorHandler({
  onManifest: () => ({ prettyName: "DMMF for the app check", defaultOutput: "./generated" }),
  onGenerate: async ({ dmmf, generator }) => {
    const folder = generator.output.value;
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, "dmmf.json"), JSON.stringify(dmmf.datamodel, null, 1));
  },
});
