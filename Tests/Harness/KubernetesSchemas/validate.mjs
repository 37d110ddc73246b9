// Usage: node validate.mjs <file with a JSON array of Kubernetes objects>. Prints one line per object; exits 1 if any is
// invalid or of a kind kubernetes-models has no schema for.
import { readFileSync } from 'node:fs';

let failed = 0;
for (const object of JSON.parse(readFileSync(process.argv[2], 'utf8'))) {
  try {
    // kubernetes-models has a module per API version (`v1`, `apps/v1`, `rbac.authorization.k8s.io/v1`, …) and a class per kind.
    const Model = (await import(`kubernetes-models/${object.apiVersion}`).catch(() => ({})))[object.kind];
    if (!Model) throw new Error(`no schema for ${object.apiVersion}/${object.kind}`);
    new Model(object).validate();
    console.log(`valid ${object.kind} ${object.metadata.name}`);
  } catch (e) {
    failed++;
    console.log(`invalid ${object.kind} ${object.metadata?.name}: ${e.message}`);
  }
}
process.exit(failed ? 1 : 0);
