// Validates dashboards against Grafana's dashboard schema, as published in npm's @grafana/schema:
// JSON Schemas are generated from its TypeScript types (ts-json-schema-generator) and checked
// with ajv. Objects reject properties the types do not declare, so a misspelt key fails.
//
//   node validate_dashboards.mjs DASHBOARD.json...
//
// What is checked:
// - the dashboard against `Dashboard` (raw/dashboard/x/types.gen.d.ts);
// - each panel's `options` and `fieldConfig.defaults.custom` against its panel plugin's
//   `Options` and `FieldConfig` (raw/composable/<type>/panelcfg/x/types.gen.d.ts).
// Left open, because the dashboard schema leaves them to the datasource plugin: a panel's
// `targets` (already `{[key]: unknown}` in the types) and an annotation's query fields
// (`AnnotationTarget` only types the built-in Grafana datasource's fields; Loki's annotation
// puts its `expr` there and `tagKeys`/`titleFormat`/`textFormat` beside it).
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';

import Ajv from 'ajv';
import {createGenerator} from 'ts-json-schema-generator';

const require = createRequire(import.meta.url);
const schemaRoot = path.join(path.dirname(require.resolve('@grafana/schema/package.json')),
                             'dist/types/raw');

function schemaOf(file, type) {
  return createGenerator({path: file, type, skipTypeCheck: true, additionalProperties: false})
      .createSchema(type);
}

const dashboardSchema = schemaOf(path.join(schemaRoot, 'dashboard/x/types.gen.d.ts'), 'Dashboard');
for (const open of ['AnnotationQuery', 'AnnotationTarget']) {
  dashboardSchema.definitions[open].additionalProperties = true;
}

const ajv = new Ajv({allErrors: true, strict: false});
const validateDashboard = ajv.compile(dashboardSchema);
const panelValidators = new Map();  // "<type>/<Options|FieldConfig>" -> validate function | null

function panelValidator(type, part) {
  const key = `${type}/${part}`;
  if (!panelValidators.has(key)) {
    const file = path.join(schemaRoot, `composable/${type}/panelcfg/x/types.gen.d.ts`);
    let validate = null;
    try {
      validate = ajv.compile(schemaOf(file, part));
    } catch (e) {
      if (part === 'Options') throw new Error(`no schema for panel type "${type}": ${e.message}`);
      // Panels without custom field options (stat, bargauge, logs) have no FieldConfig type.
    }
    panelValidators.set(key, validate);
  }
  return panelValidators.get(key);
}

function report(where, errors) {
  return errors.map((e) => `${where}${e.instancePath} ${e.message}` +
                           (e.params?.additionalProperty ? `: ${e.params.additionalProperty}`
                                                         : ''));
}

let failures = 0;
for (const file of process.argv.slice(2)) {
  const dashboard = JSON.parse(readFileSync(file, 'utf8'));
  const problems = [];
  if (!validateDashboard(dashboard)) problems.push(...report('', validateDashboard.errors));
  const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
  let checked = 0;
  for (const panel of panels) {
    if (panel.type === 'row') continue;
    const where = `panel "${panel.title}" (${panel.type})`;
    const options = panelValidator(panel.type, 'Options');
    if (!options(panel.options ?? {})) problems.push(...report(`${where} options`, options.errors));
    const custom = panel.fieldConfig?.defaults?.custom;
    if (custom !== undefined) {
      const fieldConfig = panelValidator(panel.type, 'FieldConfig');
      if (!fieldConfig) {
        problems.push(`${where}: fieldConfig.defaults.custom set, but the panel has none`);
      } else if (!fieldConfig(custom)) {
        problems.push(...report(`${where} fieldConfig.defaults.custom`, fieldConfig.errors));
      }
    }
    checked++;
  }
  if (problems.length) {
    failures++;
    console.log(`FAIL ${file}`);
    for (const p of problems) console.log(`  ${p}`);
  } else {
    console.log(`ok   ${file}: dashboard and ${checked} panels valid (@grafana/schema)`);
  }
}
process.exit(failures ? 1 : 0);
