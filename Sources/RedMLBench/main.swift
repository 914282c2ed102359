// RedML's benchmark harness. Run it in release mode:
//
//   swift run -c release redml-bench persistence [--quick] [--only memory|sqlite|blob]
//   swift run -c release redml-bench registry [--quick] [--only memory|sqlite|weights|open]
//   swift run -c release redml-bench queue [--quick] [--only memory|sqlite|latency|restart|postgres|postgres-latency|postgres-steady|postgres-churn] [--jobs N]
//   swift run -c release redml-bench http [--quick] [--only memory|sqlite|baseline]   (needs wrk)
//   swift run -c release redml-bench machine [--quick]   (the machine itself, to compare machines)
//
// Every suite runs Swift Concurrency on Swift's default executor, as `redml` and an
// embedding application do. REDML_BENCH_EXECUTOR=nio runs it on NIO's event loops
// instead (which `redml serve` did until 2026-12-01: see BENCHMARKS.md).
//
// It prints one JSON object per figure on stdout, and progress on stderr.
import Foundation
import NIOCore
import NIOPosix

let arguments = Array(CommandLine.arguments.dropFirst())
let executor = ProcessInfo.processInfo.environment["REDML_BENCH_EXECUTOR"] ?? "default"
if executor == "nio" {
    // NIO's event loops run Swift Concurrency's jobs, so a request is parsed, handled and
    // answered without hopping between thread pools; but each await costs an event-loop
    // enqueue (the in-memory active-version lookup ran 4-5x slower and no-op jobs 1.6x
    // slower there), and ServiceGroup can deadlock on it (RedMLMain.swift says how).
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
guard let suite = arguments.first else {
    FileHandle.standardError.write(Data("usage: redml-bench persistence|registry|queue|http|machine [--quick] [--only GROUP]\n".utf8))
    exit(2)
}
let options = BenchOptions(arguments: Array(arguments.dropFirst()))
switch suite {
case "persistence":
    // Hot paths run off the main actor: a call from main-actor code would pay an executor hop each time.
    try await Task.detached { try await PersistenceBenchmark(options: options).run() }.value
case "registry":
    try await Task.detached { try await RegistryBenchmark(options: options).run() }.value
case "queue":
    try await Task.detached { try await QueueBenchmark(options: options).run() }.value
case "http":
    try await Task.detached { try await HTTPBenchmark(options: options).run() }.value
case "machine":
    try await Task.detached { try await MachineBenchmark(options: options).run() }.value
default:
    FileHandle.standardError.write(Data("unknown benchmark suite '\(suite)'; known: persistence, registry, queue, http, machine\n".utf8))
    exit(2)
}
