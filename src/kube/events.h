#ifndef LLMO_KUBE_EVENTS_H
#define LLMO_KUBE_EVENTS_H
/*
 * An event recorder: core/v1 Events about objects ("Scheduled",
 * "BackOff"), as `kubectl describe` shows them, after client-go's
 * record.EventRecorder.
 *
 * Repeats of the same (object, type, reason, message) within
 * LLMO_EVENTS_AGGREGATE_MS patch the existing Event's count and
 * lastTimestamp instead of creating another.
 *
 * Never blocks the caller: llmo_kube_event only formats the event and
 * queues it (bounded; when the queue is full the event is dropped and
 * LLMO_EAGAIN returned). One background thread per recorder writes the
 * queue to the API with short timeouts. Thread-safe: any thread may record.
 */
#include "base/common.h"

#include <jansson.h>

#include "base/error.h"
#include "kube/client.h"

struct llmo_event_recorder;

/* Events waiting to be written; more are dropped. */
#define LLMO_EVENTS_QUEUE_MAX 1000
/* Repeats within this window are counted on one Event. */
#define LLMO_EVENTS_AGGREGATE_MS (10L * 60 * 1000)
/* Distinct recent events remembered for aggregation. */
#define LLMO_EVENTS_CACHE_MAX 4096
/* Longest message; longer ones are cut. */
#define LLMO_EVENTS_MESSAGE_MAX 1024
/* Each write to the API gets this long. */
#define LLMO_EVENTS_REQUEST_TIMEOUT_MS 5000
/* llmo_event_recorder_free waits this long for queued events to be written. */
#define LLMO_EVENTS_FLUSH_ON_FREE_MS 2000

/*
 * component names the reporter (source.component, "llmo-scheduler"); host
 * (may be NULL) goes to source.host. client must outlive the recorder.
 */
int llmo_event_recorder_new(struct llmo_kube_client *client, const char *component,
			    const char *host, struct llmo_event_recorder **out,
			    struct llmo_error *err);

/* Writes what is queued (for up to LLMO_EVENTS_FLUSH_ON_FREE_MS), then frees. NULL is fine. */
void llmo_event_recorder_free(struct llmo_event_recorder *rec);

/*
 * Waits until every event queued before the call has been written (or its
 * write failed): 0, or LLMO_ETIMEOUT after timeout_ms.
 */
int llmo_event_recorder_flush(struct llmo_event_recorder *rec, long timeout_ms);

/*
 * Records an event about involved_object (borrowed; it needs kind,
 * apiVersion and metadata.name, as objects from a get or a watch have; the
 * items of a List from kube-apiserver lack kind and apiVersion). type is
 * "Normal" or "Warning". 0, LLMO_EINVAL (no kind or name, another type),
 * LLMO_EAGAIN (queue full: dropped), LLMO_ENOMEM.
 */
int llmo_kube_event(struct llmo_event_recorder *rec, const json_t *involved_object,
		    const char *type, const char *reason, const char *fmt, ...) LLMO_PRINTF(5, 6);
int llmo_kube_eventv(struct llmo_event_recorder *rec, const json_t *involved_object,
		     const char *type, const char *reason, const char *fmt, va_list ap)
	LLMO_PRINTF(5, 0);

#endif
