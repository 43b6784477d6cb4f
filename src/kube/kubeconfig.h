#ifndef LLMO_KUBE_KUBECONFIG_H
#define LLMO_KUBE_KUBECONFIG_H
/*
 * Where a Kubernetes client connects and how it authenticates: read from a
 * kubeconfig file (the format kubectl uses) or from the service-account
 * files a pod gets (in-cluster), and held in memory as PEM text and strings
 * so that the client never reads files while it runs (except tokenFile, see
 * token_file).
 *
 * Supported in a kubeconfig: contexts (cluster, user, namespace), clusters
 * (server, certificate-authority or certificate-authority-data,
 * insecure-skip-tls-verify), users (token, tokenFile, client-certificate /
 * client-key as files or as -data). Relative file names are taken from the
 * kubeconfig's directory, as kubectl does. exec and auth-provider plugins and
 * basic auth are refused with LLMO_EUNSUPPORTED naming the user.
 *
 * Errors name the file and the missing piece:
 *     kubeconfig /x: context "foo" not found
 */
#include "base/common.h"
#include "base/error.h"

/* Largest token, certificate or key file read for a config. */
#define LLMO_KUBE_CRED_FILE_MAX ((size_t)1 << 20)
/* The service-account directory of a pod; LLMO_SERVICEACCOUNT_DIR overrides it. */
#define LLMO_KUBE_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/*
 * Every string is owned (heap, freed by llmo_kube_config_release) and may be
 * NULL when absent, except server and ns, which a loaded config always has.
 */
struct llmo_kube_config {
	char *server;	  /* "https://10.0.0.1:6443", no trailing '/' */
	char *token;	  /* bearer token */
	char *token_file; /* when set, the client re-reads the token from it (rotation) */
	char *ca_pem;	  /* CA bundle to trust; NULL: the system's */
	char *cert_pem;	  /* client certificate, with key_pem */
	char *key_pem;
	bool insecure_skip_verify;
	char *ns;      /* the context's namespace, "default" when it names none */
	char *context; /* the context used; NULL in-cluster */
};

/* Frees every string (wiping the token and key) and zeroes cfg. */
void llmo_kube_config_release(struct llmo_kube_config *cfg);

/*
 * Loads the kubeconfig at path; NULL means the first existing file of
 * $KUBECONFIG (a ':' list), else ~/.kube/config. context NULL uses the
 * file's current-context. *out is overwritten (not released) and on error
 * left zeroed. Codes: LLMO_ENOTFOUND (file, context, cluster or user
 * missing), LLMO_EPARSE (YAML, wrong types, bad base64), LLMO_EINVAL (no
 * server), LLMO_EUNSUPPORTED (exec/auth-provider), file errors, LLMO_ENOMEM.
 */
int llmo_kube_config_load(const char *path, const char *context, struct llmo_kube_config *out,
			  struct llmo_error *err);

/*
 * The config of a pod: server https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
 * token (re-read from its file), ca.crt and namespace from the
 * service-account directory. LLMO_ENOTFOUND when not in a pod.
 */
int llmo_kube_config_in_cluster(struct llmo_kube_config *out, struct llmo_error *err);

/*
 * What a component uses: path when given (an explicit --kubeconfig), else a
 * kubeconfig from $KUBECONFIG or ~/.kube/config when one exists, else
 * in-cluster. context as for llmo_kube_config_load.
 */
int llmo_kube_config_auto(const char *path, const char *context, struct llmo_kube_config *out,
			  struct llmo_error *err);

#endif
