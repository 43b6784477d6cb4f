#ifndef LLMO_API_META_H
#define LLMO_API_META_H
/*
 * ObjectMeta (the `metadata` of every object) and the Kubernetes name rules.
 */
#include "api/errlist.h"
#include "api/field.h"

struct llmo_owner_ref {
	char *api_version;
	char *kind;
	char *name;
	char *uid;
	bool controller;
	bool block_owner_deletion;
};

struct llmo_object_meta {
	char *name;
	char *generate_name;
	char *namespace_;
	char *uid;
	char *resource_version;
	int64_t generation;
	int64_t creation_timestamp; /* Unix ms */
	int64_t deletion_timestamp; /* Unix ms, 0 when not being deleted */
	struct llmo_strmap labels;
	struct llmo_strmap annotations;
	struct llmo_strlist finalizers;
	LLMO_LIST(struct llmo_owner_ref) owner_references;
};

extern const struct llmo_field llmo_object_meta_fields[];

enum llmo_cond_status { LLMO_COND_TRUE = 1, LLMO_COND_FALSE, LLMO_COND_UNKNOWN };

/* A status condition, as Kubernetes API conventions define it. */
struct llmo_condition {
	char *type;
	int status; /* enum llmo_cond_status */
	int64_t observed_generation;
	int64_t last_transition_time; /* Unix ms */
	char *reason;
	char *message;
};

extern const struct llmo_field llmo_condition_fields[];

/* Limits from Kubernetes' validation. */
#define LLMO_DNS1123_LABEL_MAX 63
#define LLMO_DNS1123_SUBDOMAIN_MAX 253
#define LLMO_LABEL_VALUE_MAX 63
#define LLMO_ANNOTATIONS_TOTAL_MAX (256 * 1024)

/* Each adds an error under path when s breaks the rule; returns 0 or LLMO_ENOMEM. */
int llmo_validate_dns1123_label(const char *s, const char *path, struct llmo_errlist *errs);
int llmo_validate_dns1123_subdomain(const char *s, const char *path, struct llmo_errlist *errs);
int llmo_validate_label_key(const char *s, const char *path, struct llmo_errlist *errs);
int llmo_validate_label_value(const char *s, const char *path, struct llmo_errlist *errs);

/*
 * Checks metadata as kube-apiserver does for a namespaced (or cluster-scoped)
 * object: name (or generateName) a DNS-1123 subdomain, namespace a DNS-1123
 * label, labels, annotation size. `path` is the buffer holding "metadata".
 */
int llmo_object_meta_validate(const struct llmo_object_meta *m, bool namespaced,
			      struct llmo_buf *path, struct llmo_errlist *errs);

#endif
