// A deployer's script written for Azure, run unchanged under `arm-sim exec --proxy`: it reads only the standard
// variables (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_SUBSCRIPTION_ID) and names Azure's own
// hosts; HTTPS_PROXY and NODE_EXTRA_CA_CERTS bring it to the simulator.
// usage: node deployer.mjs GROUP VAULT OBJECT_ID READER_OBJECT_ID
import { ClientSecretCredential, DefaultAzureCredential } from "@azure/identity";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { ResourceManagementClient } from "@azure/arm-resources";
import { SecretClient } from "@azure/keyvault-secrets";

const { AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: secret } = process.env;
const subscription = process.env.AZURE_SUBSCRIPTION_ID;
const [group, name, objectId, readerId] = process.argv.slice(2);

async function main() {
  const credential = new ClientSecretCredential(tenant, client, secret);
  await new ResourceManagementClient(credential, subscription).resourceGroups.createOrUpdate(group, {
    location: "eastus",
  });
  const policy = (who, secrets) => ({ tenantId: tenant, objectId: who, permissions: { secrets } });
  const vault = await new KeyVaultManagementClient(credential, subscription).vaults.beginCreateOrUpdateAndWait(
    group, name, {
      location: "eastus",
      properties: {
        tenantId: tenant,
        sku: { family: "A", name: "standard" },
        accessPolicies: [policy(objectId, ["all"]), policy(readerId, ["get"])],
      },
    });
  console.log("vaultUri", vault.properties.vaultUri);
  const secrets = new SecretClient(`https://${name}.vault.azure.net`, new DefaultAzureCredential());
  console.log("id", (await secrets.setSecret("greeting", "hello from azure code")).properties.id);
  console.log("value", (await secrets.getSecret("greeting")).value);
}

main().catch((error) => {
  console.error("error", error?.name, error?.statusCode ?? "", error?.message);
  if (error?.request) console.error("request", error.request.method, error.request.url);
  if (error?.response) console.error("response", error.response.status, error.response.bodyAsText ?? "");
  process.exit(1);
});
