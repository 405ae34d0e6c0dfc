// Package standin is the root of the project's test-only infrastructure:
// local servers that speak the real protocols of the Azure services the
// handler uses, so that the real Azure SDK clients and the real handler
// binary can be tested on a machine that reaches nothing of Azure.
//
//   - tlsca: an in-memory CA for the TLS stand-ins (SSL_CERT_FILE).
//   - identity: the App Service managed identity endpoint (IDENTITY_ENDPOINT).
//   - keyvault: Key Vault secrets for every vault of the three vault clouds.
//   - graph: Microsoft Graph synchronization secrets in the four clouds.
//   - proxy: the CONNECT proxy (HTTPS_PROXY) routing Azure host names to them.
//   - azure: all of the above started and wired in one call.
//   - host: the Azure Functions host in front of the handler binary.
//   - eventgrid: Event Grid delivering Key Vault's secret events to a queue.
//
// Production code must never import these packages; a test here fails if
// any package outside standin does. See README.md for what is modelled on
// the real services and what is inferred.
package standin
