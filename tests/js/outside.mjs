// Code written for Azure run outside every VM (`arm-sim exec --proxy` without --vm): ManagedIdentityCredential must
// find no IMDS, at once, as on a machine that is not in Azure.
// prints `unavailable SECONDS NAME` or `token`
import { ManagedIdentityCredential } from "@azure/identity";

const started = performance.now();
try {
  await new ManagedIdentityCredential().getToken("https://vault.azure.net/.default");
  console.log("token");
} catch (error) {
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log("unavailable", seconds, error?.name, String(error?.message).split("\n")[0]);
}
