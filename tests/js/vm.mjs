// Code inside a VM, written for Azure, run unchanged under `arm-sim exec --proxy --vm NAME`: its identity comes from
// IMDS at Azure's own address (http://169.254.169.254), reached through HTTP_PROXY like every other request.
// usage: node vm.mjs VAULT
import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";

const [name] = process.argv.slice(2);

async function main() {
  for (const [label, credential] of [["managed", new ManagedIdentityCredential()],
                                     ["default", new DefaultAzureCredential()]]) {
    const secrets = new SecretClient(`https://${name}.vault.azure.net`, credential);
    console.log("value", (await secrets.getSecret("greeting")).value);
    console.log(label, "ok");
  }
}

main().catch((error) => {
  console.error("error", error?.name, error?.statusCode ?? "", error?.message);
  if (error?.request) console.error("request", error.request.method, error.request.url);
  if (error?.response) console.error("response", error.response.status, error.response.bodyAsText ?? "");
  process.exit(1);
});
