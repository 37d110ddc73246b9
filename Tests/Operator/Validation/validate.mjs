// Usage: node validate.mjs <file with a JSON array of Kubernetes objects>. Prints one line per object; exits 1 if any is invalid.
import { readFileSync } from 'node:fs';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';

const models = { 'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition };
let failed = 0;
for (const object of JSON.parse(readFileSync(process.argv[2], 'utf8'))) {
  const Model = models[`${object.apiVersion}/${object.kind}`];
  try {
    if (!Model) throw new Error(`no model for ${object.apiVersion}/${object.kind}`);
    new Model(object).validate();
    console.log(`valid ${object.kind} ${object.metadata.name}`);
  } catch (e) {
    failed++;
    console.log(`invalid ${object.kind} ${object.metadata?.name}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
