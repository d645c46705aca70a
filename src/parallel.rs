//! Plain CPU-bound work spread over the cores, order kept: the assembly and judging of
//! cluster-wide reports (100,000 partitions) and their serialization. Pure helpers: no I/O,
//! no clock, no decisions.

/// Maps `f` over `items` on all cores (scoped threads, order kept). For the pure,
/// CPU-bound assembly and judging of large reports; small inputs stay on this thread.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("the assembly of a report does not panic"))
            .collect()
    })
}
