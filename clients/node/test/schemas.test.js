// The contract's JSON Schemas as most JavaScript consumers read them: Ajv 8 (draft 2020-12) in
// strict mode, with ajv-formats. Every schema under schemas/ must compile there, and the schema
// alone must give the shared payload vectors the verdicts they record (Ajv is a devDependency of
// these tests only; the client itself has no dependencies).

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, test } from 'node:test';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

const SCHEMAS = new URL('../../../schemas/', import.meta.url);
const readText = (name) => readFileSync(new URL(name, SCHEMAS), 'utf8');
const readJson = (name) => JSON.parse(readText(name));

function strictAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

/** Every JSON file under schemas/ that declares a JSON Schema dialect. */
function jsonSchemaFiles() {
  return readdirSync(SCHEMAS, { recursive: true })
    .filter((name) => name.endsWith('.json'))
    .sort()
    .filter((name) => Object.hasOwn(readJson(name), '$schema'));
}

/** The schemas inside openapi.yaml, by JSON pointer: components and parameters. */
function openapiSchemas() {
  const document = parseYaml(readText('openapi.yaml'));
  const { schemas = {}, parameters = {} } = document.components;
  return [
    ...Object.entries(schemas).map(([name, schema]) => [`#/components/schemas/${name}`, schema]),
    ...Object.entries(parameters).map(([name, parameter]) => [
      `#/components/parameters/${name}/schema`,
      parameter.schema,
    ]),
  ];
}

const MODEL_SCHEMA_FILE = 'model_registered.v1.schema.json';
const MODEL_SCHEMA = readJson(MODEL_SCHEMA_FILE);
const PAYLOADS = readJson('vectors/payloads.v1.json');
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bodyOf(testCase) {
  return 'body_base64' in testCase
    ? Buffer.from(testCase.body_base64, 'base64')
    : Buffer.from(testCase.body, 'utf8');
}

/** `{ value }` when the body is one JSON text a plain JSON.parse reads, else null. */
function parsedByJavaScript(testCase) {
  try {
    return { value: JSON.parse(STRICT_UTF8.decode(bodyOf(testCase))) };
  } catch {
    return null;
  }
}

describe('strict Ajv compiles every schema of the contract', () => {
  const files = jsonSchemaFiles();

  test('the JSON Schema files are found', () => {
    assert.ok(files.includes(MODEL_SCHEMA_FILE), files.join(', '));
  });

  for (const file of files) {
    test(file, () => {
      strictAjv().compile(readJson(file));
    });
  }

  for (const [pointer, schema] of openapiSchemas()) {
    test(`openapi.yaml ${pointer}`, () => {
      strictAjv().compile(schema);
    });
  }
});

describe('the schema alone gives every payload vector its recorded verdict', () => {
  const validate = strictAjv().compile(MODEL_SCHEMA);

  for (const testCase of PAYLOADS.cases) {
    test(testCase.name, () => {
      const parsed = parsedByJavaScript(testCase);
      if (parsed === null) {
        // Not one JSON text: no schema ever sees it, and it is recorded as invalid JSON.
        assert.equal(testCase.expected.problem, 'invalid_json');
        assert.equal(testCase.schema_alone, undefined);
        return;
      }
      const expected = testCase.schema_alone === 'accepts' ? true : testCase.expected.valid;
      assert.equal(validate(parsed.value), expected, JSON.stringify(validate.errors));
    });
  }

  test('every case the schema alone accepts names a rule beyond the schema', () => {
    const marked = PAYLOADS.cases.filter((c) => c.schema_alone !== undefined);
    assert.ok(marked.length > 0);
    for (const testCase of marked) {
      assert.equal(testCase.schema_alone, 'accepts', testCase.name);
      assert.equal(testCase.expected.valid, false, testCase.name);
      assert.ok(Object.hasOwn(PAYLOADS.beyond_schema, testCase.beyond_schema), testCase.name);
    }
  });
});

describe('strict Ajv accepts every example the contract ships', () => {
  const ajv = strictAjv();
  ajv.addSchema(MODEL_SCHEMA);

  test('the example files and the schema examples', () => {
    const validate = ajv.getSchema(MODEL_SCHEMA.$id);
    const examples = readdirSync(new URL('examples/', SCHEMAS))
      .filter((name) => name.endsWith('.json'))
      .map((name) => readJson(`examples/${name}`));
    assert.ok(examples.length >= 2);
    for (const example of [...examples, ...MODEL_SCHEMA.examples]) {
      assert.equal(validate(example), true, JSON.stringify(validate.errors));
    }
  });

  for (const [field, rule] of Object.entries(MODEL_SCHEMA.properties)) {
    test(`the examples of ${field}`, () => {
      const validate = ajv.getSchema(`${MODEL_SCHEMA.$id}#/properties/${field}`);
      for (const example of rule.examples) {
        assert.equal(validate(example), true, JSON.stringify(validate.errors));
      }
    });
  }
});
