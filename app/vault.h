/* Secrets from HashiCorp Vault (KV version 2), loaded at start-up. */
#ifndef TN_VAULT_H
#define TN_VAULT_H

#include <stddef.h>

/* The secret settings Vault may provide; NULL-terminated. */
extern const char *const tn_vault_names[];

/*
 * With TENANTRY_VAULT_ADDR and TENANTRY_VAULT_TOKEN (or _FILE) set, reads
 * the KV v2 secret TENANTRY_VAULT_PATH (default secret/data/tenantry) and
 * puts each of its members that names a secret setting into the
 * environment, unless that setting (or its _FILE) is set already; other
 * members are ignored. Call it before the settings are read and before
 * any thread or worker starts. Returns 0 when Vault is not configured
 * or the secret was loaded, -1 with a message in err (never a secret
 * value) otherwise.
 */
int tn_vault_load(char *err, size_t errlen);

#endif
