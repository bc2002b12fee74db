// check.js checks CloudFormation templates (JSON) against the AWS resource
// specification that @aws-cdk/aws-service-spec ships (db.json.gz): resource
// types, properties, required properties, value kinds, allowed values,
// Ref, Fn::GetAtt and Fn::Sub targets and attribute names, DependsOn
// targets, and the shape of the intrinsic functions.
//
//   node check.js template.json...
//
// Prints one line per problem, "file: path: problem", and exits 1 if any.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const dbFile = path.join(__dirname, 'node_modules/@aws-cdk/aws-service-spec/db.json.gz');
const db = JSON.parse(zlib.gunzipSync(fs.readFileSync(dbFile))).schema;
const resourceTypes = new Map(db.resource.entities.map((r) => [r.cloudFormationType, r]));
const typeDefs = new Map(db.typeDefinition.entities.map((t) => [t.$id, t]));

const PSEUDO = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition',
  'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);
const TOP = new Set(['AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters', 'Mappings',
  'Conditions', 'Transform', 'Resources', 'Outputs', 'Rules']);
const RESOURCE_KEYS = new Set(['Type', 'Properties', 'DependsOn', 'Condition', 'Metadata', 'DeletionPolicy',
  'UpdateReplacePolicy', 'CreationPolicy', 'UpdatePolicy']);
const PARAM_KEYS = new Set(['Type', 'Description', 'Default', 'AllowedValues', 'AllowedPattern', 'MinValue',
  'MaxValue', 'MinLength', 'MaxLength', 'NoEcho', 'ConstraintDescription']);
const PARAM_TYPE = /^(String|Number|List<Number>|CommaDelimitedList|AWS::[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+|List<AWS::[A-Za-z0-9:]+>|AWS::SSM::Parameter::Name|AWS::SSM::Parameter::Value<[A-Za-z0-9:<>]+>)$/;
const FUNCTIONS = new Set(['Ref', 'Fn::GetAtt', 'Fn::Sub', 'Fn::Join', 'Fn::Base64', 'Fn::Select', 'Fn::Split',
  'Fn::GetAZs', 'Fn::If', 'Fn::ImportValue', 'Fn::FindInMap', 'Fn::Cidr', 'Fn::Equals', 'Fn::Not', 'Fn::And', 'Fn::Or']);

function checkTemplate(file, t) {
  const problems = [];
  const bad = (at, msg) => problems.push(`${file}: ${at}: ${msg}`);
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const params = t.Parameters || {};
  const resources = t.Resources || {};
  for (const k of Object.keys(t)) if (!TOP.has(k)) bad(k, 'unknown top-level section');
  if (!isObj(t.Resources) || Object.keys(resources).length === 0) bad('Resources', 'a template needs at least one resource');
  for (const [id, p] of Object.entries(params)) {
    for (const k of Object.keys(p)) if (!PARAM_KEYS.has(k)) bad(`Parameters.${id}.${k}`, 'unknown parameter attribute');
    if (!PARAM_TYPE.test(p.Type || '')) bad(`Parameters.${id}.Type`, `unknown parameter type ${JSON.stringify(p.Type)}`);
    if (id in resources) bad(`Parameters.${id}`, 'a resource has the same logical ID');
    if (p.Type === 'Number' && 'Default' in p && (p.Default === '' || isNaN(Number(p.Default)))) bad(`Parameters.${id}.Default`, `${JSON.stringify(p.Default)} is not a number`);
    if (p.AllowedValues && 'Default' in p && !p.AllowedValues.map(String).includes(String(p.Default))) bad(`Parameters.${id}.Default`, 'not one of AllowedValues');
  }
  const isListParam = (id) => /^(List<|CommaDelimitedList)/.test((params[id] || {}).Type || '');

  // intrinsic checks an intrinsic function at `at`; returns the kind of
  // value it gives: 'list', 'scalar' or 'any'.
  function intrinsic(at, fn, arg) {
    const ref = (name, where) => {
      if (!(name in params) && !(name in resources) && !PSEUDO.has(name)) bad(where, `Ref to ${name}: no parameter, resource or pseudo parameter of that name`);
    };
    const getAtt = (res, attr, where) => {
      const r = resources[res];
      if (!r) return bad(where, `Fn::GetAtt of ${res}: no such resource`);
      const spec = resourceTypes.get(r.Type);
      if (spec && !(attr in (spec.attributes || {}))) bad(where, `Fn::GetAtt ${res}.${attr}: ${r.Type} has no attribute ${attr} (it has ${Object.keys(spec.attributes || {}).join(', ')})`);
      return spec && spec.attributes && spec.attributes[attr] && spec.attributes[attr].type.type === 'array' ? 'list' : 'scalar';
    };
    switch (fn) {
      case 'Ref':
        if (typeof arg !== 'string') return bad(at, 'Ref takes a logical ID string'), 'any';
        ref(arg, at);
        return isListParam(arg) ? 'list' : 'scalar';
      case 'Fn::GetAtt': {
        const parts = typeof arg === 'string' ? [arg.slice(0, arg.indexOf('.')), arg.slice(arg.indexOf('.') + 1)] : arg;
        if (!Array.isArray(parts) || parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string') return bad(at, 'Fn::GetAtt takes [resource, attribute]'), 'any';
        return getAtt(parts[0], parts[1], at);
      }
      case 'Fn::Sub': {
        let [text, vars] = typeof arg === 'string' ? [arg, {}] : Array.isArray(arg) ? arg : [undefined];
        if (typeof text !== 'string' || !isObj(vars || {})) return bad(at, 'Fn::Sub takes a string or [string, {variables}]'), 'any';
        for (const [k, v] of Object.entries(vars || {})) value(`${at}.${k}`, v, { type: 'string' });
        for (const m of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
          const name = m[1].trim();
          if (vars && name in vars) continue;
          const dot = name.indexOf('.');
          if (dot > 0 && !PSEUDO.has(name)) getAtt(name.slice(0, dot), name.slice(dot + 1), `${at} \${${name}}`);
          else ref(name, `${at} \${${name}}`);
        }
        return 'scalar';
      }
      case 'Fn::Base64': value(at + '.Fn::Base64', arg, { type: 'string' }); return 'scalar';
      case 'Fn::Join':
        if (!Array.isArray(arg) || arg.length !== 2 || typeof arg[0] !== 'string') return bad(at, 'Fn::Join takes [delimiter, [values]]'), 'any';
        value(at + '.Fn::Join[1]', arg[1], { type: 'array', element: { type: 'string' } });
        return 'scalar';
      case 'Fn::Split': return 'list';
      case 'Fn::GetAZs': return 'list';
      default: return 'any';
    }
  }

  // value checks v against a type of the specification.
  function value(at, v, type) {
    if (isObj(v) && Object.keys(v).length === 1 && /^(Ref|Fn::)/.test(Object.keys(v)[0])) {
      const fn = Object.keys(v)[0];
      if (!FUNCTIONS.has(fn)) return bad(at, `unknown intrinsic function ${fn}`);
      const kind = intrinsic(at, fn, v[fn]);
      if (kind === 'list' && type.type !== 'array' && type.type !== 'union' && type.type !== 'json') bad(at, `${fn} gives a list where ${type.type} is expected`);
      if (kind === 'scalar' && type.type === 'array') bad(at, `${fn} gives a single value where a list is expected`);
      return;
    }
    switch (type.type) {
      case 'string':
        if (typeof v !== 'string' && typeof v !== 'number') return bad(at, `expected a string, got ${JSON.stringify(v)}`);
        if (type.allowedValues && !type.allowedValues.includes(String(v))) bad(at, `${JSON.stringify(v)} is not one of ${type.allowedValues.join(', ')}`);
        return;
      case 'integer':
        if (!(Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v)))) bad(at, `expected an integer, got ${JSON.stringify(v)}`);
        return;
      case 'number':
        if (!(typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !isNaN(Number(v))))) bad(at, `expected a number, got ${JSON.stringify(v)}`);
        return;
      case 'boolean':
        if (typeof v !== 'boolean' && v !== 'true' && v !== 'false') bad(at, `expected a boolean, got ${JSON.stringify(v)}`);
        return;
      case 'json': return;
      case 'array':
        if (!Array.isArray(v)) return bad(at, `expected a list, got ${JSON.stringify(v)}`);
        return v.forEach((e, i) => value(`${at}[${i}]`, e, type.element));
      case 'map':
        if (!isObj(v)) return bad(at, 'expected a map');
        return Object.entries(v).forEach(([k, e]) => value(`${at}.${k}`, e, type.element));
      case 'tag':
        if (!isObj(v) || !('Key' in v) || !('Value' in v)) return bad(at, 'expected a tag {Key, Value}');
        return value(at + '.Value', v.Value, { type: 'string' });
      case 'union': {
        const before = problems.length;
        for (const alt of type.types) {
          const mark = problems.length;
          value(at, v, alt);
          if (problems.length === mark) return problems.splice(before);
          problems.splice(mark);
        }
        return bad(at, `matches none of ${type.types.map((x) => x.type).join(', ')}`);
      }
      case 'ref': {
        const def = typeDefs.get(type.reference.$ref);
        if (!def) return bad(at, `specification has no type ${type.reference.$ref}`);
        return properties(at, v, def.properties || {}, def.name);
      }
      default: bad(at, `specification kind ${type.type} is not known to this checker`);
    }
  }

  function properties(at, v, spec, what) {
    if (!isObj(v)) return bad(at, `expected the properties of ${what}`);
    for (const [k, e] of Object.entries(v)) {
      if (!(k in spec)) bad(`${at}.${k}`, `${what} has no property ${k}`);
      else value(`${at}.${k}`, e, spec[k].type);
    }
    for (const [k, p] of Object.entries(spec)) if (p.required && !(k in v)) bad(at, `${what} requires ${k}`);
  }

  for (const [id, r] of Object.entries(resources)) {
    const at = `Resources.${id}`;
    if (!/^[A-Za-z0-9]{1,255}$/.test(id)) bad(at, 'a logical ID is 1-255 letters and digits');
    for (const k of Object.keys(r)) if (!RESOURCE_KEYS.has(k)) bad(`${at}.${k}`, 'unknown resource attribute');
    const spec = resourceTypes.get(r.Type);
    if (!spec) { bad(`${at}.Type`, `unknown resource type ${JSON.stringify(r.Type)}`); continue; }
    const deps = r.DependsOn === undefined ? [] : [].concat(r.DependsOn);
    for (const d of deps) if (!(d in resources)) bad(`${at}.DependsOn`, `${d}: no such resource`);
    properties(`${at}.Properties`, r.Properties || {}, spec.properties || {}, r.Type);
  }
  for (const [id, o] of Object.entries(t.Outputs || {})) {
    if (!('Value' in o)) bad(`Outputs.${id}`, 'an output needs a Value');
    else value(`Outputs.${id}.Value`, o.Value, { type: 'string' });
  }
  return problems;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check.js template.json...');
  process.exit(2);
}
let problems = 0;
for (const f of files) {
  const found = checkTemplate(f, JSON.parse(fs.readFileSync(f, 'utf8')));
  found.forEach((p) => console.log(p));
  problems += found.length;
}
console.error(`checked ${files.length} template(s) against ${resourceTypes.size} resource types: ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
