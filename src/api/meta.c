#include "api/meta.h"
#include "base/error.h"
#include "base/json.h"

#define OM struct llmo_object_meta
#define OR struct llmo_owner_ref

static const struct llmo_field owner_ref_fields[] = {
	LLMO_FIELD(OR, api_version, "apiVersion", LLMO_FT_STRING),
	LLMO_FIELD(OR, kind, "kind", LLMO_FT_STRING),
	LLMO_FIELD(OR, name, "name", LLMO_FT_STRING),
	LLMO_FIELD(OR, uid, "uid", LLMO_FT_STRING),
	LLMO_FIELD(OR, controller, "controller", LLMO_FT_BOOL),
	LLMO_FIELD(OR, block_owner_deletion, "blockOwnerDeletion", LLMO_FT_BOOL),
	LLMO_FIELD_END,
};

const struct llmo_field llmo_object_meta_fields[] = {
	LLMO_FIELD(OM, name, "name", LLMO_FT_STRING),
	LLMO_FIELD(OM, generate_name, "generateName", LLMO_FT_STRING),
	LLMO_FIELD(OM, namespace_, "namespace", LLMO_FT_STRING),
	LLMO_FIELD(OM, uid, "uid", LLMO_FT_STRING),
	LLMO_FIELD(OM, resource_version, "resourceVersion", LLMO_FT_STRING),
	LLMO_FIELD(OM, generation, "generation", LLMO_FT_INT64),
	LLMO_FIELD(OM, creation_timestamp, "creationTimestamp", LLMO_FT_TIME),
	LLMO_FIELD(OM, deletion_timestamp, "deletionTimestamp", LLMO_FT_TIME),
	LLMO_FIELD(OM, labels, "labels", LLMO_FT_STRMAP),
	LLMO_FIELD(OM, annotations, "annotations", LLMO_FT_STRMAP),
	LLMO_FIELD(OM, finalizers, "finalizers", LLMO_FT_STRLIST),
	LLMO_FIELD(OM, owner_references, "ownerReferences", LLMO_FT_LIST, .sub = owner_ref_fields,
		   .elem_size = sizeof(OR)),
	LLMO_FIELD_END,
};

static const char *const cond_statuses[] = {"True", "False", "Unknown", NULL};

#define CO struct llmo_condition
const struct llmo_field llmo_condition_fields[] = {
	LLMO_FIELD(CO, type, "type", LLMO_FT_STRING, .flags = LLMO_FF_REQUIRED),
	LLMO_FIELD(CO, status, "status", LLMO_FT_ENUM, .enums = cond_statuses,
		   .flags = LLMO_FF_REQUIRED),
	LLMO_FIELD(CO, observed_generation, "observedGeneration", LLMO_FT_INT64),
	LLMO_FIELD(CO, last_transition_time, "lastTransitionTime", LLMO_FT_TIME),
	LLMO_FIELD(CO, reason, "reason", LLMO_FT_STRING),
	LLMO_FIELD(CO, message, "message", LLMO_FT_STRING),
	LLMO_FIELD_END,
};

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_alnum_lower(c) || (c >= 'A' && c <= 'Z');
}

int llmo_validate_dns1123_label(const char *s, const char *path, struct llmo_errlist *errs)
{
	size_t n = strlen(s);

	if (n == 0)
		return llmo_errlist_add(errs, path, "must not be empty");
	if (n > LLMO_DNS1123_LABEL_MAX)
		return llmo_errlist_add(errs, path, "\"%s\": must be no more than %d characters", s,
					LLMO_DNS1123_LABEL_MAX);
	for (size_t i = 0; i < n; i++) {
		if (is_alnum_lower(s[i]) || (s[i] == '-' && i > 0 && i < n - 1))
			continue;
		return llmo_errlist_add(errs, path,
					"\"%s\": a DNS-1123 label must consist of lower case "
					"alphanumeric characters or '-', and must start and end "
					"with an alphanumeric character", s);
	}
	return 0;
}

int llmo_validate_dns1123_subdomain(const char *s, const char *path, struct llmo_errlist *errs)
{
	size_t n = strlen(s);

	if (n == 0)
		return llmo_errlist_add(errs, path, "must not be empty");
	if (n > LLMO_DNS1123_SUBDOMAIN_MAX)
		return llmo_errlist_add(errs, path, "must be no more than %d characters",
					LLMO_DNS1123_SUBDOMAIN_MAX);
	for (size_t i = 0; i < n; i++) {
		bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';

		if (is_alnum_lower(s[i]) || (!edge && (s[i] == '-' || s[i] == '.')))
			continue;
		return llmo_errlist_add(errs, path,
					"\"%s\": a DNS-1123 subdomain must consist of lower case "
					"alphanumeric characters, '-' or '.', and must start and end "
					"with an alphanumeric character", s);
	}
	return 0;
}

/* The "name" part of a qualified name: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, <= 63. */
static bool qualified_part_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

int llmo_validate_label_key(const char *s, const char *path, struct llmo_errlist *errs)
{
	const char *slash = strchr(s, '/');
	const char *name = slash ? slash + 1 : s;

	if (slash) {
		struct llmo_errlist scratch;
		char prefix[LLMO_DNS1123_SUBDOMAIN_MAX + 2];
		size_t plen = (size_t)(slash - s);
		bool bad;

		if (plen == 0 || plen > LLMO_DNS1123_SUBDOMAIN_MAX)
			return llmo_errlist_add(errs, path, "\"%s\": prefix must be a DNS-1123 "
						"subdomain of at most 253 characters", s);
		memcpy(prefix, s, plen);
		prefix[plen] = '\0';
		llmo_errlist_init(&scratch);
		llmo_validate_dns1123_subdomain(prefix, "", &scratch);
		bad = llmo_errlist_count(&scratch) > 0;
		llmo_errlist_release(&scratch);
		if (bad)
			return llmo_errlist_add(errs, path, "\"%s\": prefix must be a DNS-1123 "
						"subdomain", s);
	}
	if (!qualified_part_ok(name, strlen(name)))
		return llmo_errlist_add(errs, path,
					"\"%s\": name part must be 63 characters or less, consist of "
					"alphanumeric characters, '-', '_' or '.', and start and end "
					"with an alphanumeric character", s);
	return 0;
}

int llmo_validate_label_value(const char *s, const char *path, struct llmo_errlist *errs)
{
	size_t n = strlen(s);

	if (n == 0 || qualified_part_ok(s, n))
		return 0;
	return llmo_errlist_add(errs, path,
				"\"%s\": a label value must be empty or 63 characters or less, "
				"consist of alphanumeric characters, '-', '_' or '.', and start "
				"and end with an alphanumeric character", s);
}

int llmo_object_meta_validate(const struct llmo_object_meta *m, bool namespaced,
			      struct llmo_buf *path, struct llmo_errlist *errs)
{
	size_t mark = path->len, total = 0;
	int rc = 0;

	llmo_path_push_key(path, "name");
	if (m->name)
		rc = llmo_validate_dns1123_subdomain(m->name, path->data, errs);
	else if (!m->generate_name)
		rc = llmo_errlist_add(errs, path->data, "required field is missing");
	llmo_buf_truncate(path, mark);

	llmo_path_push_key(path, "namespace");
	if (!rc && m->namespace_ && namespaced)
		rc = llmo_validate_dns1123_label(m->namespace_, path->data, errs);
	else if (!rc && m->namespace_ && *m->namespace_ && !namespaced)
		rc = llmo_errlist_add(errs, path->data, "not allowed on a cluster-scoped object");
	llmo_buf_truncate(path, mark);

	for (size_t i = 0; !rc && i < m->labels.len; i++) {
		llmo_path_push_key(path, "labels");
		llmo_path_push_key(path, m->labels.items[i].key);
		rc = llmo_validate_label_key(m->labels.items[i].key, path->data, errs);
		if (!rc)
			rc = llmo_validate_label_value(m->labels.items[i].value, path->data, errs);
		llmo_buf_truncate(path, mark);
	}
	for (size_t i = 0; !rc && i < m->annotations.len; i++) {
		llmo_path_push_key(path, "annotations");
		llmo_path_push_key(path, m->annotations.items[i].key);
		rc = llmo_validate_label_key(m->annotations.items[i].key, path->data, errs);
		llmo_buf_truncate(path, mark);
		total += strlen(m->annotations.items[i].key) + strlen(m->annotations.items[i].value);
	}
	if (!rc && total > LLMO_ANNOTATIONS_TOTAL_MAX) {
		llmo_path_push_key(path, "annotations");
		rc = llmo_errlist_add(errs, path->data, "total size %zu bytes exceeds %d", total,
				      LLMO_ANNOTATIONS_TOTAL_MAX);
		llmo_buf_truncate(path, mark);
	}
	return rc;
}
