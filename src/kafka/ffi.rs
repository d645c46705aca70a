//! librdkafka admin calls that rdkafka's safe API lacks, and [`exit_process`]: with one
//! `kill(2)` of a hook's process group in `hooks/process.rs`, the only unsafe code in cutover.
//!
//! rdkafka 0.39 has no ListOffsets, ListConsumerGroupOffsets, DescribeConsumerGroups or
//! ListConsumerGroups, and librdkafka itself no DescribeProducers: that one goes through
//! [`RawAdmin::raw_request`] (vendor patch 0003), its bytes written and read in `producers.rs`. Falling back to per-partition `fetch_watermarks` or to a consumer per
//! group would cost a request per partition or a client per group, so this module calls the
//! C admin API through `rdkafka-sys` instead, and nothing else in the crate does.
//!
//! How it works: [`RawAdmin`] owns an rdkafka `BaseConsumer` (which owns the `rd_kafka_t`
//! handle) and a result queue of its own. Each call boxes a `oneshot::Sender`, hands the raw
//! box to librdkafka as the request's opaque, and issues the request on that queue. One
//! thread polls the queue, turns each result event's opaque back into its sender and sends
//! the event, so any number of requests can be in flight on one handle. The caller copies
//! everything it needs out of the event into owned Rust values before the event is destroyed.
//!
//! Ownership rules (librdkafka's admin API documentation):
//! - request objects, `AdminOptions` and input partition lists are copied by the call, so they
//!   are destroyed right after it (by the RAII guards below);
//! - everything reachable from a result event is owned by the event and lives until
//!   `rd_kafka_event_destroy`, which [`Event`]'s `Drop` calls exactly once;
//! - a non-null `rd_kafka_error_t` returned by an `AdminOptions` setter belongs to the caller.
//!
//! librdkafka's error codes and group states are C enums, which `rdkafka-sys` binds as Rust
//! enums: a value newer than the binding would be undefined behaviour to hold. So every
//! function that returns one is declared again here returning `c_int`, and struct fields of
//! that type are read as `i32`.
//!
//! This module must not make decisions, retry, or log: it converts, and the safe
//! `RdKafkaCluster` above it does the rest.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::client_log::ClientLog;
use rdkafka_sys as sys;
use tokio::sync::oneshot;

use crate::kafka::cluster::{
    GroupDescription, GroupList, GroupListing, GroupMember, GroupOffsets, GroupProtocol,
    GroupState, OffsetSpec, PartitionResult,
};
use crate::model::{BrokerError, GroupId, Offset, Topic, TopicPartition};

// The same librdkafka symbols as in `rdkafka-sys`, declared with `c_int` where the C side
// returns an enum, so that a code this binding does not know can never become an invalid
// Rust enum value.
extern "C" {
    #[link_name = "rd_kafka_event_error"]
    fn event_error_code(rkev: *mut sys::rd_kafka_event_t) -> c_int;
    #[link_name = "rd_kafka_error_code"]
    fn error_code(error: *const sys::rd_kafka_error_t) -> c_int;
    #[link_name = "rd_kafka_err2name"]
    fn err2name(code: c_int) -> *const c_char;
    #[link_name = "rd_kafka_err2str"]
    fn err2str(code: c_int) -> *const c_char;
    #[link_name = "rd_kafka_ConsumerGroupDescription_state"]
    fn description_state(grpdesc: *const sys::rd_kafka_ConsumerGroupDescription_t) -> c_int;
    #[link_name = "rd_kafka_ConsumerGroupDescription_type"]
    fn description_type(grpdesc: *const sys::rd_kafka_ConsumerGroupDescription_t) -> c_int;
    #[link_name = "rd_kafka_ConsumerGroupListing_state"]
    fn listing_state(grplist: *const sys::rd_kafka_ConsumerGroupListing_t) -> c_int;
    #[link_name = "rd_kafka_ConsumerGroupListing_type"]
    fn listing_type(grplist: *const sys::rd_kafka_ConsumerGroupListing_t) -> c_int;
    /// Added by vendor patch 0003 (`vendor/README.md`), so not in `rdkafka-sys`'s bindings.
    fn rd_kafka_raw_request(
        rk: *mut sys::rd_kafka_t,
        broker_id: i32,
        api_key: i16,
        api_version: i16,
        flexver: c_int,
        body: *const c_void,
        body_size: usize,
        timeout_ms: c_int,
        answer: *mut *mut c_void,
        answer_size: *mut usize,
    ) -> c_int;
}

/// A failure of a whole admin request (not of one partition or group in it).
pub(crate) type RequestResult<T> = std::result::Result<T, BrokerError>;

/// How offsets are read. Log ends are read `READ_UNCOMMITTED`: the high watermark, the same
/// number `kafka-consumer-groups` and the link's mirror lag report. A committed offset never
/// exceeds it, and a consumer resuming at an offset at or below it reads forward from there
/// (a `read_committed` consumer waits for open transactions to resolve), so no record is
/// skipped or repeated. The last stable offset would hide records that are already on the
/// mirror and make mirror lag disagree with the link's own figure.
const ISOLATION: sys::rd_kafka_IsolationLevel_t =
    sys::rd_kafka_IsolationLevel_t::RD_KAFKA_ISOLATION_LEVEL_READ_UNCOMMITTED;
/// The isolation level that gives the last stable offset (`OffsetSpec::LastStable`).
const STABLE: sys::rd_kafka_IsolationLevel_t =
    sys::rd_kafka_IsolationLevel_t::RD_KAFKA_ISOLATION_LEVEL_READ_COMMITTED;

/// A result event, owned: destroyed exactly once, on drop.
struct Event(NonNull<sys::rd_kafka_event_t>);

// SAFETY: an event is a heap object that librdkafka hands over to the application; once
// polled it is referenced by nothing else, and librdkafka allows destroying it from any thread.
unsafe impl Send for Event {}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `rd_kafka_queue_poll`, is non-null, and `Event` is
        // its only owner, so it is destroyed once.
        unsafe { sys::rd_kafka_event_destroy(self.0.as_ptr()) }
    }
}

impl Event {
    fn ptr(&self) -> *mut sys::rd_kafka_event_t {
        self.0.as_ptr()
    }

    /// Checks the event is the expected result type and carries no request-level error.
    fn check(&self, expected: c_int) -> RequestResult<()> {
        // SAFETY: the event is live (owned by self); these accessors only read it.
        unsafe {
            let actual = sys::rd_kafka_event_type(self.ptr());
            if actual != expected {
                return Err(client_error(format!(
                    "librdkafka returned event type {actual}, expected {expected}"
                )));
            }
            let code = event_error_code(self.ptr());
            if code != 0 {
                let message = cstr(sys::rd_kafka_event_error_string(self.ptr()));
                return Err(broker_error(code, message));
            }
        }
        Ok(())
    }
}

/// librdkafka's queue handle, thread-safe on the C side.
struct Queue(NonNull<sys::rd_kafka_queue_t>);

// SAFETY: librdkafka queues are internally locked and may be polled and destroyed from any
// thread; `RawAdmin` destroys it only after the polling thread has been joined.
unsafe impl Send for Queue {}
// SAFETY: as above, concurrent `rd_kafka_queue_poll` and request submission are supported.
unsafe impl Sync for Queue {}

/// `AdminOptions`, destroyed on drop. librdkafka copies the options when a request is issued.
struct Options(NonNull<sys::rd_kafka_AdminOptions_t>);

impl Drop for Options {
    fn drop(&mut self) {
        // SAFETY: created by `rd_kafka_AdminOptions_new`, owned only by self.
        unsafe { sys::rd_kafka_AdminOptions_destroy(self.0.as_ptr()) }
    }
}

/// A topic-partition list we built, destroyed on drop (librdkafka copies it when a request
/// is issued).
struct PartitionList(NonNull<sys::rd_kafka_topic_partition_list_t>);

impl Drop for PartitionList {
    fn drop(&mut self) {
        // SAFETY: created by `rd_kafka_topic_partition_list_new`, owned only by self.
        unsafe { sys::rd_kafka_topic_partition_list_destroy(self.0.as_ptr()) }
    }
}

/// The raw admin handle: a client, a result queue, and the thread that routes results.
pub(crate) struct RawAdmin {
    client: Arc<BaseConsumer<ClientLog>>,
    queue: Option<Arc<Queue>>,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
    poller: Option<JoinHandle<()>>,
    request_timeout: Duration,
}

impl RawAdmin {
    pub(crate) fn new(client: Arc<BaseConsumer<ClientLog>>, request_timeout: Duration) -> Self {
        // SAFETY: the handle is live for as long as `client`, which `RawAdmin` keeps until
        // after the queue is destroyed (see `Drop`).
        let raw = unsafe { sys::rd_kafka_queue_new(client.client().native_ptr()) };
        let queue = Arc::new(Queue(
            NonNull::new(raw).expect("rd_kafka_queue_new never returns null (it aborts on OOM)"),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let poller = {
            let (queue, stop, in_flight) = (queue.clone(), stop.clone(), in_flight.clone());
            std::thread::Builder::new()
                .name("cutover-admin-poll".into())
                .spawn(move || poll_loop(&queue, &stop, &in_flight))
                .expect("spawning a thread only fails when the process is out of resources")
        };
        RawAdmin {
            client,
            queue: Some(queue),
            stop,
            in_flight,
            poller: Some(poller),
            request_timeout,
        }
    }

    fn rk(&self) -> *mut sys::rd_kafka_t {
        self.client.client().native_ptr()
    }

    /// Sends one read-only request of a flexible version, given as its body, to broker
    /// `broker` over this handle's connection to it (its TLS and SASL), and gives back the
    /// answer's body: for the calls librdkafka lacks (DescribeProducers). The broker must be
    /// in this handle's metadata (a metadata request on it first). Sent once, never retried.
    pub(crate) async fn raw_request(
        &self,
        broker: i32,
        api_key: i16,
        api_version: i16,
        body: Vec<u8>,
    ) -> RequestResult<Vec<u8>> {
        let client = self.client.clone();
        let timeout_ms = c_int::try_from(self.request_timeout.as_millis()).unwrap_or(c_int::MAX);
        let call = move || {
            let rk = client.client().native_ptr();
            let mut answer: *mut c_void = ptr::null_mut();
            let mut size = 0usize;
            // SAFETY: `rk` is live while `client` is held (to the end of this closure); the
            // body is only read during the call; on success `answer` is null or `size` bytes
            // that librdkafka allocated for us, copied and then freed once below.
            let code = unsafe {
                rd_kafka_raw_request(
                    rk,
                    broker,
                    api_key,
                    api_version,
                    1,
                    body.as_ptr().cast(),
                    body.len(),
                    timeout_ms,
                    &mut answer,
                    &mut size,
                )
            };
            if code != 0 {
                return Err(broker_error(code, String::new()));
            }
            if answer.is_null() {
                return Ok(Vec::new());
            }
            // SAFETY: see above; the slice is copied before the memory is freed.
            let bytes = unsafe { std::slice::from_raw_parts(answer.cast::<u8>(), size).to_vec() };
            // SAFETY: `answer` came from librdkafka's allocator for this handle, freed once.
            unsafe { sys::rd_kafka_mem_free(rk, answer) };
            Ok(bytes)
        };
        tokio::task::spawn_blocking(call)
            .await
            .unwrap_or_else(|e| Err(client_error(format!("the request's thread failed: {e}"))))
    }

    fn queue(&self) -> *mut sys::rd_kafka_queue_t {
        self.queue
            .as_ref()
            .expect("the queue is only taken in Drop")
            .0
            .as_ptr()
    }

    /// New `AdminOptions` for `op` with the request timeout set.
    fn options(&self, op: sys::rd_kafka_admin_op_t) -> RequestResult<Options> {
        // SAFETY: the handle is live; the returned options are owned by the guard.
        let raw = unsafe { sys::rd_kafka_AdminOptions_new(self.rk(), op) };
        let options =
            Options(NonNull::new(raw).ok_or_else(|| {
                client_error(format!("librdkafka refused admin options for {op:?}"))
            })?);
        let timeout_ms = c_int::try_from(self.request_timeout.as_millis()).unwrap_or(c_int::MAX);
        let mut errstr = [0 as c_char; 256];
        // SAFETY: options are live; errstr is a writable buffer of the size we pass.
        let code = unsafe {
            sys::rd_kafka_AdminOptions_set_request_timeout(
                options.0.as_ptr(),
                timeout_ms,
                errstr.as_mut_ptr(),
                errstr.len(),
            )
        };
        if code != sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            // SAFETY: librdkafka NUL-terminates errstr within its size.
            let message = unsafe { cstr(errstr.as_ptr()) };
            return Err(client_error(format!(
                "cannot set the request timeout: {message}"
            )));
        }
        Ok(options)
    }

    /// Attaches a fresh sender as the request's opaque and returns its receiver. Must be
    /// followed immediately by issuing the request with these options, which always yields
    /// exactly one result event on our queue (errors included), so the box is always reclaimed
    /// by the poller.
    fn attach(&self, options: &Options) -> oneshot::Receiver<Event> {
        let (tx, rx) = oneshot::channel::<Event>();
        let opaque = Box::into_raw(Box::new(tx)).cast::<c_void>();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        // SAFETY: options are live; librdkafka stores the pointer and returns it, untouched,
        // from `rd_kafka_event_opaque` on the result event.
        unsafe { sys::rd_kafka_AdminOptions_set_opaque(options.0.as_ptr(), opaque) };
        rx
    }

    /// Waits for a request's result event, bounded by the request timeout plus a margin in
    /// case librdkafka itself never answers.
    async fn wait(&self, rx: oneshot::Receiver<Event>) -> RequestResult<Event> {
        let bound = self.request_timeout + Duration::from_secs(5);
        match tokio::time::timeout(bound, rx).await {
            Ok(Ok(event)) => Ok(event),
            Ok(Err(_)) => Err(client_error("the admin result queue was closed".into())),
            Err(_) => Err(broker_error(
                sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__TIMED_OUT as c_int,
                format!("no admin result within {}s", bound.as_secs()),
            )),
        }
    }

    /// ListOffsets for one batch of distinct partitions.
    pub(crate) async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> RequestResult<Vec<(TopicPartition, PartitionResult<Offset>)>> {
        let offset = match spec {
            OffsetSpec::Earliest => i64::from(sys::RD_KAFKA_OFFSET_BEGINNING),
            OffsetSpec::Latest | OffsetSpec::LastStable => i64::from(sys::RD_KAFKA_OFFSET_END),
        };
        let raw = self
            .list_offsets_raw(
                partitions.iter().map(|tp| (tp, offset)),
                partitions.len(),
                spec == OffsetSpec::LastStable,
            )
            .await?;
        Ok(raw
            .into_iter()
            .map(|(tp, result)| {
                let result = result.and_then(|raw| {
                    Offset::from_raw(raw).ok_or_else(|| {
                        client_error(format!("the broker returned offset {raw} for {tp}"))
                    })
                });
                (tp, result)
            })
            .collect())
    }

    /// ListOffsets by timestamp for one batch of distinct partitions, each with its own time
    /// (milliseconds since the epoch): the offset of the first record whose timestamp is at or
    /// after it, `None` when no record is.
    pub(crate) async fn offsets_for_times(
        &self,
        at: &[(TopicPartition, i64)],
    ) -> RequestResult<Vec<(TopicPartition, PartitionResult<Option<Offset>>)>> {
        let raw = self
            .list_offsets_raw(at.iter().map(|(tp, t)| (tp, *t)), at.len(), false)
            .await?;
        Ok(raw
            .into_iter()
            .map(|(tp, result)| (tp, result.map(Offset::from_raw)))
            .collect())
    }

    /// One ListOffsets request: each partition with its spec (a sentinel or a timestamp).
    async fn list_offsets_raw<'a>(
        &self,
        entries: impl Iterator<Item = (&'a TopicPartition, i64)>,
        len: usize,
        stable: bool,
    ) -> RequestResult<Vec<(TopicPartition, PartitionResult<i64>)>> {
        // Raw pointers are confined to blocks that end before each await, so the future stays
        // `Send` and nothing C-owned is held while suspended.
        let rx = {
            let options = self.options(sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTOFFSETS)?;
            // SAFETY: options are live; a returned error object is ours to destroy.
            unsafe {
                take_error(sys::rd_kafka_AdminOptions_set_isolation_level(
                    options.0.as_ptr(),
                    if stable { STABLE } else { ISOLATION },
                ))?
            };
            let list = build_list(len, entries)?;
            let rx = self.attach(&options);
            // SAFETY: handle, list, options and queue are live; librdkafka copies list and
            // options, which the guards destroy at the end of this block.
            unsafe {
                sys::rd_kafka_ListOffsets(
                    self.rk(),
                    list.0.as_ptr(),
                    options.0.as_ptr(),
                    self.queue(),
                )
            };
            rx
        };
        let event = self.wait(rx).await?;
        event.check(sys::RD_KAFKA_EVENT_LISTOFFSETS_RESULT)?;
        // SAFETY: the event is a live ListOffsets result; every pointer read below is owned by
        // it and copied out before it is dropped.
        unsafe {
            let result = sys::rd_kafka_event_ListOffsets_result(event.ptr());
            let mut count = 0usize;
            let infos = sys::rd_kafka_ListOffsets_result_infos(result, &mut count);
            let mut out = Vec::with_capacity(count);
            let mut names = TopicNames::default();
            for info in slice(infos, count) {
                let elem = sys::rd_kafka_ListOffsetsResultInfo_topic_partition(*info);
                out.push(read_partition(elem, &mut names));
            }
            Ok(out)
        }
    }

    /// Every committed offset of one group (librdkafka accepts one group per call).
    pub(crate) async fn committed_offsets(&self, group: &GroupId) -> RequestResult<GroupOffsets> {
        let rx = {
            let options =
                self.options(sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS)?;
            // Stable offsets: a fetch racing a transactional commit waits for it to resolve
            // instead of returning an offset that may still be aborted.
            // SAFETY: options are live; a returned error object is ours to destroy.
            unsafe {
                take_error(sys::rd_kafka_AdminOptions_set_require_stable_offsets(
                    options.0.as_ptr(),
                    1,
                ))?
            };
            let name = c_string(group.as_str())?;
            // SAFETY: `name` outlives the call; a null partition list asks for every committed
            // partition. librdkafka copies the request, so it is destroyed right after.
            unsafe {
                let mut request =
                    sys::rd_kafka_ListConsumerGroupOffsets_new(name.as_ptr(), ptr::null());
                let rx = self.attach(&options);
                sys::rd_kafka_ListConsumerGroupOffsets(
                    self.rk(),
                    &mut request,
                    1,
                    options.0.as_ptr(),
                    self.queue(),
                );
                sys::rd_kafka_ListConsumerGroupOffsets_destroy(request);
                rx
            }
        };
        let event = self.wait(rx).await?;
        event.check(sys::RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT)?;
        // SAFETY: the event is a live ListConsumerGroupOffsets result; all reads are copied out.
        unsafe {
            let result = sys::rd_kafka_event_ListConsumerGroupOffsets_result(event.ptr());
            let mut count = 0usize;
            let groups = sys::rd_kafka_ListConsumerGroupOffsets_result_groups(result, &mut count);
            let Some(&group_result) = slice(groups, count).first() else {
                return Err(client_error(format!("no result for group {group}")));
            };
            Ok(read_group_offsets(group_result))
        }
    }

    /// Commits offsets for one group through the admin API (AlterConsumerGroupOffsets), as
    /// a cluster link's offset sync does. The coordinator accepts it only while the group has
    /// no members; otherwise each partition comes back with `UNKNOWN_MEMBER_ID`.
    pub(crate) async fn alter_committed_offsets(
        &self,
        group: &GroupId,
        offsets: &[(TopicPartition, Offset)],
    ) -> RequestResult<GroupOffsets> {
        let rx = {
            let options = self
                .options(sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS)?;
            let list = build_list(offsets.len(), offsets.iter().map(|(tp, o)| (tp, o.get())))?;
            let name = c_string(group.as_str())?;
            // SAFETY: `name` and `list` outlive the calls; librdkafka copies both into the
            // request and copies the request when issued, so it is destroyed right after.
            unsafe {
                let mut request =
                    sys::rd_kafka_AlterConsumerGroupOffsets_new(name.as_ptr(), list.0.as_ptr());
                let rx = self.attach(&options);
                sys::rd_kafka_AlterConsumerGroupOffsets(
                    self.rk(),
                    &mut request,
                    1,
                    options.0.as_ptr(),
                    self.queue(),
                );
                sys::rd_kafka_AlterConsumerGroupOffsets_destroy(request);
                rx
            }
        };
        let event = self.wait(rx).await?;
        event.check(sys::RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT)?;
        // SAFETY: the event is a live AlterConsumerGroupOffsets result; all reads are copied.
        unsafe {
            let result = sys::rd_kafka_event_AlterConsumerGroupOffsets_result(event.ptr());
            let mut count = 0usize;
            let groups = sys::rd_kafka_AlterConsumerGroupOffsets_result_groups(result, &mut count);
            let Some(&group_result) = slice(groups, count).first() else {
                return Err(client_error(format!("no result for group {group}")));
            };
            Ok(read_group_offsets(group_result))
        }
    }

    /// DescribeConsumerGroups for a batch of groups (one request per group inside librdkafka:
    /// ConsumerGroupDescribe first, classic DescribeGroups as the fallback).
    pub(crate) async fn describe_groups(
        &self,
        groups: &[GroupId],
    ) -> RequestResult<Vec<GroupDescription>> {
        let rx = {
            let options =
                self.options(sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS)?;
            let names = groups
                .iter()
                .map(|g| c_string(g.as_str()))
                .collect::<RequestResult<Vec<_>>>()?;
            let mut pointers: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
            let rx = self.attach(&options);
            // SAFETY: `names` backs `pointers` and outlives the call, which copies the strings.
            unsafe {
                sys::rd_kafka_DescribeConsumerGroups(
                    self.rk(),
                    pointers.as_mut_ptr(),
                    pointers.len(),
                    options.0.as_ptr(),
                    self.queue(),
                )
            };
            rx
        };
        let event = self.wait(rx).await?;
        event.check(sys::RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT)?;
        // SAFETY: the event is a live DescribeConsumerGroups result; all reads are copied out.
        unsafe {
            let result = sys::rd_kafka_event_DescribeConsumerGroups_result(event.ptr());
            let mut count = 0usize;
            let descriptions =
                sys::rd_kafka_DescribeConsumerGroups_result_groups(result, &mut count);
            Ok(slice(descriptions, count)
                .iter()
                .map(|d| read_description(*d))
                .collect())
        }
    }

    /// ListConsumerGroups across every broker.
    pub(crate) async fn list_groups(&self) -> RequestResult<GroupList> {
        let rx = {
            let options =
                self.options(sys::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS)?;
            let rx = self.attach(&options);
            // SAFETY: handle, options and queue are live; the options are copied.
            unsafe {
                sys::rd_kafka_ListConsumerGroups(self.rk(), options.0.as_ptr(), self.queue())
            };
            rx
        };
        let event = self.wait(rx).await?;
        event.check(sys::RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT)?;
        // SAFETY: the event is a live ListConsumerGroups result; all reads are copied out.
        unsafe {
            let result = sys::rd_kafka_event_ListConsumerGroups_result(event.ptr());
            let mut count = 0usize;
            let valid = sys::rd_kafka_ListConsumerGroups_result_valid(result, &mut count);
            let groups = slice(valid, count)
                .iter()
                .map(|listing| GroupListing {
                    group: GroupId::new(cstr(sys::rd_kafka_ConsumerGroupListing_group_id(
                        *listing,
                    ))),
                    state: group_state(listing_state(*listing)),
                    protocol: group_protocol(listing_type(*listing)),
                    simple: sys::rd_kafka_ConsumerGroupListing_is_simple_consumer_group(*listing)
                        != 0,
                })
                .collect();
            let mut count = 0usize;
            let errors = sys::rd_kafka_ListConsumerGroups_result_errors(result, &mut count);
            let errors = slice(errors, count)
                .iter()
                .filter_map(|e| read_error(*e))
                .collect();
            Ok(GroupList { groups, errors })
        }
    }
}

impl Drop for RawAdmin {
    fn drop(&mut self) {
        // Give requests whose futures were dropped a moment to come back, so their boxed
        // senders are reclaimed instead of leaked when the handle goes away.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(poller) = self.poller.take() {
            let _ = poller.join();
        }
        if let Some(queue) = self.queue.take() {
            // The poller is joined, so this is the last reference: drain what is left (its
            // opaques included), then destroy the queue before the client handle goes away.
            poll_ready(&queue, &self.in_flight);
            if let Ok(queue) = Arc::try_unwrap(queue) {
                // SAFETY: the queue came from `rd_kafka_queue_new`, nothing else references
                // it, and the client handle it belongs to is still alive.
                unsafe { sys::rd_kafka_queue_destroy(queue.0.as_ptr()) };
            }
        }
    }
}

fn poll_loop(queue: &Queue, stop: &AtomicBool, in_flight: &AtomicUsize) {
    while !stop.load(Ordering::SeqCst) {
        // SAFETY: the queue is live until `RawAdmin::drop` joins this thread.
        let raw = unsafe { sys::rd_kafka_queue_poll(queue.0.as_ptr(), 100) };
        route(raw, in_flight);
    }
}

fn poll_ready(queue: &Queue, in_flight: &AtomicUsize) {
    loop {
        // SAFETY: the queue is live (called from Drop before destroying it).
        let raw = unsafe { sys::rd_kafka_queue_poll(queue.0.as_ptr(), 0) };
        if raw.is_null() {
            return;
        }
        route(raw, in_flight);
    }
}

/// Sends a polled event to the caller that issued its request.
fn route(raw: *mut sys::rd_kafka_event_t, in_flight: &AtomicUsize) {
    let Some(ptr) = NonNull::new(raw) else { return };
    let event = Event(ptr);
    // SAFETY: the event is live.
    let opaque = unsafe { sys::rd_kafka_event_opaque(event.ptr()) };
    if opaque.is_null() {
        return; // not one of ours; dropping destroys it
    }
    // SAFETY: every request on this queue carries an opaque made by `attach` from
    // `Box<oneshot::Sender<Event>>`, and each request yields exactly one result event, so the
    // box is reclaimed exactly once.
    let sender = unsafe { Box::from_raw(opaque.cast::<oneshot::Sender<Event>>()) };
    in_flight.fetch_sub(1, Ordering::SeqCst);
    // A caller that gave up (timeout, cancellation) dropped its receiver; the event is then
    // destroyed here.
    let _ = sender.send(event);
}

fn build_list<'a>(
    len: usize,
    entries: impl Iterator<Item = (&'a TopicPartition, i64)>,
) -> RequestResult<PartitionList> {
    let size = c_int::try_from(len)
        .map_err(|_| client_error("too many partitions in one request".into()))?;
    // SAFETY: creates an empty list we own.
    let raw = unsafe { sys::rd_kafka_topic_partition_list_new(size) };
    let list = PartitionList(
        NonNull::new(raw).expect("rd_kafka_topic_partition_list_new never returns null"),
    );
    for (tp, offset) in entries {
        let topic = c_string(&tp.topic)?;
        // SAFETY: the list is live; `add` copies the topic name and returns a pointer to the new
        // element inside the list, valid until the list changes again.
        unsafe {
            let elem = sys::rd_kafka_topic_partition_list_add(
                list.0.as_ptr(),
                topic.as_ptr(),
                tp.partition,
            );
            (*elem).offset = offset;
        }
    }
    Ok(list)
}

/// Reads a group result: its error, or every partition with an offset (−1, "no committed
/// offset", is left out) or a partition error.
///
/// # Safety
/// `group_result` must point to a live group result owned by a live event.
unsafe fn read_group_offsets(group_result: *const sys::rd_kafka_group_result_t) -> GroupOffsets {
    if let Some(err) = read_error(sys::rd_kafka_group_result_error(group_result)) {
        return Err(err);
    }
    let mut names = TopicNames::default();
    // Collected in one go: the map sorts the list once and builds its tree from it, rather
    // than searching the tree for every partition.
    Ok(
        list_elems(sys::rd_kafka_group_result_partitions(group_result))
            .filter_map(|elem| match read_partition(elem, &mut names) {
                (tp, Ok(raw)) => Offset::from_raw(raw).map(|offset| (tp, Ok(offset))),
                (tp, Err(err)) => Some((tp, Err(err))),
            })
            .collect(),
    )
}

/// Reads one element of a result partition list: the partition and its offset or error.
///
/// # Safety
/// `elem` must point to a live `rd_kafka_topic_partition_t`.
unsafe fn read_partition(
    elem: *const sys::rd_kafka_topic_partition_t,
    names: &mut TopicNames,
) -> (TopicPartition, PartitionResult<i64>) {
    let tp = TopicPartition::new(names.read((*elem).topic), (*elem).partition);
    // Read the C enum field as the i32 it is, so an unknown code stays a number.
    let code = ptr::addr_of!((*elem).err).cast::<i32>().read();
    if code != 0 {
        (tp, Err(broker_error(code, String::new())))
    } else {
        (tp, Ok((*elem).offset))
    }
}

/// Topic names read from one result. A result lists a topic's partitions one after another,
/// so the name last read is shared with the next partition when it is the same: one
/// allocation per topic instead of one per partition (a group on 500 partitions).
#[derive(Default)]
struct TopicNames {
    last: Option<Topic>,
}

impl TopicNames {
    /// # Safety
    /// `s` must be null or a live NUL-terminated string.
    unsafe fn read(&mut self, s: *const c_char) -> Topic {
        let bytes = if s.is_null() {
            &[][..]
        } else {
            CStr::from_ptr(s).to_bytes()
        };
        match &self.last {
            Some(last) if last.as_bytes() == bytes => last.clone(),
            _ => {
                let topic = Topic::from(String::from_utf8_lossy(bytes).into_owned());
                self.last = Some(topic.clone());
                topic
            }
        }
    }
}

/// The elements of a partition list owned by someone else (null reads as empty).
///
/// # Safety
/// `list` must be null or point to a live list that outlives the returned iterator's use.
unsafe fn list_elems<'a>(
    list: *const sys::rd_kafka_topic_partition_list_t,
) -> impl Iterator<Item = *const sys::rd_kafka_topic_partition_t> + 'a {
    let (elems, count) = if list.is_null() {
        (ptr::null_mut(), 0)
    } else {
        ((*list).elems, usize::try_from((*list).cnt).unwrap_or(0))
    };
    (0..count).map(move |i| elems.add(i).cast_const())
}

/// # Safety
/// `list` must be null or point to a live list.
unsafe fn read_partitions(
    list: *const sys::rd_kafka_topic_partition_list_t,
) -> Vec<TopicPartition> {
    let mut names = TopicNames::default();
    list_elems(list)
        .map(|e| read_partition(e, &mut names).0)
        .collect()
}

/// # Safety
/// `desc` must point to a live description owned by a live event.
unsafe fn read_description(
    desc: *const sys::rd_kafka_ConsumerGroupDescription_t,
) -> GroupDescription {
    let coordinator = sys::rd_kafka_ConsumerGroupDescription_coordinator(desc);
    let members = (0..sys::rd_kafka_ConsumerGroupDescription_member_count(desc))
        .map(|i| sys::rd_kafka_ConsumerGroupDescription_member(desc, i))
        .filter(|m| !m.is_null())
        .map(|m| {
            let assignment = sys::rd_kafka_MemberDescription_assignment(m);
            let target = sys::rd_kafka_MemberDescription_target_assignment(m);
            GroupMember {
                member_id: cstr(sys::rd_kafka_MemberDescription_consumer_id(m)),
                client_id: cstr(sys::rd_kafka_MemberDescription_client_id(m)),
                group_instance_id: opt_cstr(sys::rd_kafka_MemberDescription_group_instance_id(m)),
                host: cstr(sys::rd_kafka_MemberDescription_host(m)),
                assignment: if assignment.is_null() {
                    Vec::new()
                } else {
                    read_partitions(sys::rd_kafka_MemberAssignment_partitions(assignment))
                },
                target_assignment: (!target.is_null())
                    .then(|| read_partitions(sys::rd_kafka_MemberAssignment_partitions(target))),
            }
        })
        .collect();
    GroupDescription {
        group: GroupId::new(cstr(sys::rd_kafka_ConsumerGroupDescription_group_id(desc))),
        state: group_state(description_state(desc)),
        protocol: group_protocol(description_type(desc)),
        simple: sys::rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(desc) != 0,
        partition_assignor: opt_cstr(sys::rd_kafka_ConsumerGroupDescription_partition_assignor(
            desc,
        ))
        .filter(|a| !a.is_empty()),
        coordinator: (!coordinator.is_null()).then(|| sys::rd_kafka_Node_id(coordinator)),
        members,
        error: read_error(sys::rd_kafka_ConsumerGroupDescription_error(desc)),
    }
}

fn group_state(raw: c_int) -> GroupState {
    match raw {
        1 => GroupState::PreparingRebalance,
        2 => GroupState::CompletingRebalance,
        3 => GroupState::Stable,
        4 => GroupState::Dead,
        5 => GroupState::Empty,
        _ => GroupState::Unknown,
    }
}

fn group_protocol(raw: c_int) -> GroupProtocol {
    match raw {
        1 => GroupProtocol::Consumer,
        2 => GroupProtocol::Classic,
        _ => GroupProtocol::Unknown,
    }
}

/// Copies an `rd_kafka_error_t` we do not own (null means no error).
///
/// # Safety
/// `error` must be null or live.
unsafe fn read_error(error: *const sys::rd_kafka_error_t) -> Option<BrokerError> {
    if error.is_null() {
        return None;
    }
    Some(broker_error(
        error_code(error),
        cstr(sys::rd_kafka_error_string(error)),
    ))
}

/// Turns an `rd_kafka_error_t` we own (returned by an `AdminOptions` setter) into a result,
/// destroying it.
///
/// # Safety
/// `error` must be null or a live error owned by the caller.
unsafe fn take_error(error: *mut sys::rd_kafka_error_t) -> RequestResult<()> {
    match read_error(error) {
        None => Ok(()),
        Some(err) => {
            sys::rd_kafka_error_destroy(error);
            Err(err)
        }
    }
}

/// A `BrokerError` for a librdkafka error code.
pub(crate) fn broker_error(code: c_int, message: String) -> BrokerError {
    // SAFETY: err2name and err2str accept any int and return static strings.
    let (name, text) = unsafe { (cstr(err2name(code)), cstr(err2str(code))) };
    BrokerError {
        code,
        name,
        message: if message.is_empty() { text } else { message },
    }
}

fn client_error(message: String) -> BrokerError {
    broker_error(
        sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__FAIL as c_int,
        message,
    )
}

fn c_string(s: &str) -> RequestResult<CString> {
    CString::new(s).map_err(|_| client_error(format!("name {s:?} contains a NUL byte")))
}

/// Copies a C string we do not own; null reads as empty.
///
/// # Safety
/// `s` must be null or a live NUL-terminated string.
unsafe fn cstr(s: *const c_char) -> String {
    opt_cstr(s).unwrap_or_default()
}

/// # Safety
/// `s` must be null or a live NUL-terminated string.
unsafe fn opt_cstr(s: *const c_char) -> Option<String> {
    (!s.is_null()).then(|| CStr::from_ptr(s).to_string_lossy().into_owned())
}

/// A C array of `count` pointers as a slice (null or empty reads as empty).
///
/// # Safety
/// `array` must be null or point to `count` live elements that outlive the slice.
unsafe fn slice<'a, T>(array: *mut *const T, count: usize) -> &'a [*const T] {
    if array.is_null() || count == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(array, count)
    }
}

/// Ends the process with `code` without running C at-exit handlers, after flushing stdout and
/// stderr.
///
/// librdkafka's broker threads can outlive every owner of their client for a moment (a thread
/// serving a client's events holds it between polls; a blocking call given up on still runs).
/// `exit(3)` runs OpenSSL's `OPENSSL_cleanup` under them, and a thread in a TLS handshake then
/// reads freed memory: a crash (SIGSEGV) seen at exit on the secure lab, about one run in 40.
/// Nothing of cutover's needs those handlers: journals are synced on every append, and the
/// kernel closes sockets and files.
pub fn exit_process(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes no pointer and never returns; it skips at-exit handlers and stdio
    // buffers, both flushed or unneeded above.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_partitions_of_a_topic_share_one_name() {
        let (orders, payments) = (c"orders", c"payments");
        let mut names = TopicNames::default();
        // SAFETY: the names are live NUL-terminated strings (or null).
        let [a, b, c, d] = unsafe {
            [
                names.read(orders.as_ptr()),
                names.read(orders.as_ptr()),
                names.read(payments.as_ptr()),
                names.read(ptr::null()),
            ]
        };
        assert_eq!(
            (a.as_str(), b.as_str(), c.as_str(), d.as_str()),
            ("orders", "orders", "payments", "")
        );
        assert!(
            ptr::eq(a.as_str(), b.as_str()),
            "the second read shares the first name"
        );
        assert!(!ptr::eq(a.as_str(), c.as_str()));
    }

    #[test]
    fn error_codes_get_their_librdkafka_names() {
        assert_eq!(broker_error(5, String::new()).name, "LEADER_NOT_AVAILABLE");
        assert_eq!(broker_error(-185, String::new()).name, "_TIMED_OUT");
        assert_eq!(broker_error(69, String::new()).name, "GROUP_ID_NOT_FOUND");
    }

    #[test]
    fn a_code_newer_than_the_bindings_is_kept_as_a_number_without_undefined_behaviour() {
        let err = broker_error(31_337, "from a future broker".into());
        assert_eq!(err.code, 31_337);
        assert_eq!(err.message, "from a future broker");
        assert!(!err.name.is_empty());
    }

    #[test]
    fn group_states_and_types_map_from_librdkafka_values() {
        assert_eq!(group_state(3), GroupState::Stable);
        assert_eq!(group_state(5), GroupState::Empty);
        assert_eq!(group_state(4), GroupState::Dead);
        assert_eq!(group_state(42), GroupState::Unknown);
        assert_eq!(group_protocol(1), GroupProtocol::Consumer);
        assert_eq!(group_protocol(2), GroupProtocol::Classic);
        assert_eq!(group_protocol(7), GroupProtocol::Unknown);
    }

    #[test]
    fn partition_lists_carry_the_requested_offset_for_every_partition() {
        let parts: Vec<_> = (0..3).map(|p| TopicPartition::new("t", p)).collect();
        let list = build_list(parts.len(), parts.iter().map(|tp| (tp, -1))).unwrap();
        // SAFETY: the list is live for the duration of the read.
        let read: Vec<_> = unsafe {
            list_elems(list.0.as_ptr())
                .map(|e| (read_partition(e, &mut TopicNames::default()).0, (*e).offset))
                .collect()
        };
        assert_eq!(
            read,
            parts.into_iter().map(|tp| (tp, -1)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_name_with_a_nul_byte_is_refused_not_truncated() {
        let err = c_string("orders\0evil").expect_err("NUL is not allowed");
        assert!(err.message.contains("NUL"));
    }
}
