// The contract's JSON Schemas as most JavaScript consumers read them: Ajv 8 (draft 2020-12) in
// strict mode, with ajv-formats. Every schema under schemas/ must compile there, and the schema
// alone must give the shared payload vectors (v1, and both shapes in payloads.v2.json) the
// verdicts they record (Ajv is a devDependency of these tests only; the client itself has no
// dependencies).

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

/** A strict Ajv holding these schema files by their $id, as a consumer loads them side by side. */
function strictAjvWith(files) {
  const ajv = strictAjv();
  for (const file of files) ajv.addSchema(readJson(file));
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
const V2_SCHEMA_FILE = 'model_registered.v2.schema.json';
const V2_SCHEMA = readJson(V2_SCHEMA_FILE);
const ANY_SCHEMA_FILE = 'model_registered.schema.json';
const ANY_SCHEMA = readJson(ANY_SCHEMA_FILE);
const SHAPE_FILES = [MODEL_SCHEMA_FILE, V2_SCHEMA_FILE];
const PAYLOADS = readJson('vectors/payloads.v1.json');
const PAYLOADS_V2 = readJson('vectors/payloads.v2.json');
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

  test('both shapes and the schema of every accepted body are among them', () => {
    for (const file of [V2_SCHEMA_FILE, ANY_SCHEMA_FILE]) assert.ok(files.includes(file), file);
  });

  for (const file of files) {
    test(file, () => {
      // Each schema compiles on its own, with the others beside it for its $refs.
      const ajv = strictAjvWith(files.filter((other) => other !== file));
      ajv.compile(readJson(file));
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

/** The website's order: a body with a top-level token_id is v1, any other body v2. */
const shapeOf = (body) =>
  body !== null && typeof body === 'object' && !Array.isArray(body) && 'token_id' in body
    ? 'v1'
    : 'v2';

/** Ajv's errors as sorted JSON paths, a missing field named by its own path. */
function violationPaths(errors) {
  const paths = new Set();
  for (const error of errors ?? []) {
    if (error.keyword === 'if') continue; // says only that "then" or "else" failed
    let path = '$';
    for (const part of error.instancePath.split('/').slice(1)) {
      const name = part.replaceAll('~1', '/').replaceAll('~0', '~');
      path += /^\d+$/.test(name) ? `[${name}]` : `.${name}`;
    }
    if (error.keyword === 'required') path += `.${error.params.missingProperty}`;
    paths.add(path);
  }
  return [...paths].sort();
}

describe('strict Ajv accepts every example the contract ships', () => {
  const ajv = strictAjvWith(SHAPE_FILES);
  const bySchema = { v1: MODEL_SCHEMA, v2: V2_SCHEMA };
  const any = ajv.compile(ANY_SCHEMA);

  test('the example files, each for its shape and for the schema of every body', () => {
    const names = readdirSync(new URL('examples/', SCHEMAS)).filter((n) => n.endsWith('.json'));
    const shapes = names.map((name) => shapeOf(readJson(`examples/${name}`)));
    assert.ok(shapes.filter((shape) => shape === 'v1').length >= 2, names.join(', '));
    assert.ok(shapes.filter((shape) => shape === 'v2').length >= 3, names.join(', '));
    for (const name of names) {
      const example = readJson(`examples/${name}`);
      const validate = ajv.getSchema(bySchema[shapeOf(example)].$id);
      assert.equal(validate(example), true, `${name}: ${JSON.stringify(validate.errors)}`);
      assert.equal(any(example), true, `${name}: ${JSON.stringify(any.errors)}`);
    }
  });

  for (const schema of Object.values(bySchema)) {
    test(`the examples of ${schema.title}`, () => {
      const validate = ajv.getSchema(schema.$id);
      for (const example of schema.examples) {
        assert.equal(validate(example), true, JSON.stringify(validate.errors));
      }
    });
  }

  for (const [field, rule] of Object.entries(MODEL_SCHEMA.properties)) {
    test(`the examples of ${field}`, () => {
      const validate = ajv.getSchema(`${MODEL_SCHEMA.$id}#/properties/${field}`);
      for (const example of rule.examples) {
        assert.equal(validate(example), true, JSON.stringify(validate.errors));
      }
    });
  }

  /** Every v2 field at every level, with the JSON pointer of its rule. */
  function* v2Fields(schema, pointer, prefix) {
    for (const [name, rule] of Object.entries(schema.properties ?? {})) {
      yield [`${prefix}${name}`, `${pointer}/properties/${name}`, rule];
      yield* v2Fields(rule, `${pointer}/properties/${name}`, `${prefix}${name}.`);
    }
  }

  for (const [field, pointer, rule] of v2Fields(V2_SCHEMA, '#', '')) {
    test(`v2: the examples of ${field}`, () => {
      assert.ok(rule.description, field);
      const validate = ajv.getSchema(`${V2_SCHEMA.$id}${pointer}`);
      if (rule.examples === undefined) {
        // A field v2 forbids (token_id): no value is valid.
        assert.deepEqual(rule.not, {}, field);
        assert.equal(validate('LSCOR'), false);
        return;
      }
      for (const example of rule.examples) {
        assert.equal(validate(example), true, JSON.stringify(validate.errors));
      }
    });
  }
});

describe('the schema of its shape gives every v2 vector its recorded verdict and paths', () => {
  const ajv = strictAjvWith(SHAPE_FILES);
  const validators = {
    v1: ajv.getSchema(MODEL_SCHEMA.$id),
    v2: ajv.getSchema(V2_SCHEMA.$id),
  };
  const any = ajv.compile(ANY_SCHEMA);

  test('the vectors name the files of their shapes', () => {
    assert.deepEqual(PAYLOADS_V2.shapes, { v1: MODEL_SCHEMA_FILE, v2: V2_SCHEMA_FILE });
    assert.deepEqual(new Set(PAYLOADS_V2.cases.map((c) => c.shape)), new Set(['v1', 'v2']));
  });

  for (const testCase of PAYLOADS_V2.cases) {
    test(testCase.name, () => {
      const parsed = parsedByJavaScript(testCase);
      assert.notEqual(parsed, null, 'every v2 vector is one JSON text');
      assert.equal(shapeOf(parsed.value), testCase.shape);
      const validate = validators[testCase.shape];
      const accepts = testCase.schema_alone === 'accepts';
      const expectedPaths = accepts ? [] : testCase.expected.paths;
      assert.equal(validate(parsed.value), accepts || testCase.expected.valid);
      assert.deepEqual(violationPaths(validate.errors), expectedPaths);
      // The schema of every accepted body makes the same choice of shape.
      assert.equal(any(parsed.value), accepts || testCase.expected.valid);
      assert.deepEqual(violationPaths(any.errors), expectedPaths);
    });
  }

  test('every case the schema alone accepts names a rule beyond the schema', () => {
    for (const testCase of PAYLOADS_V2.cases) {
      if (testCase.beyond_schema !== undefined) {
        assert.ok(Object.hasOwn(PAYLOADS_V2.beyond_schema, testCase.beyond_schema));
      }
      if (testCase.schema_alone !== undefined) {
        assert.equal(testCase.schema_alone, 'accepts', testCase.name);
        assert.equal(testCase.expected.valid, false, testCase.name);
        assert.ok(testCase.beyond_schema, testCase.name);
      }
    }
  });
});
