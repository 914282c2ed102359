// RedML's benchmark harness. Run it in release mode:
//
//   swift run -c release redml-bench persistence [--quick] [--only memory|sqlite|blob]
//
// It prints one JSON object per figure on stdout, and progress on stderr.
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
guard let suite = arguments.first else {
    FileHandle.standardError.write(Data("usage: redml-bench persistence [--quick] [--only memory|sqlite|blob]\n".utf8))
    exit(2)
}
let options = BenchOptions(arguments: Array(arguments.dropFirst()))
switch suite {
case "persistence":
    // Hot paths run off the main actor: a call from main-actor code would pay an executor hop each time.
    try await Task.detached { try await PersistenceBenchmark(options: options).run() }.value
default:
    FileHandle.standardError.write(Data("unknown benchmark suite '\(suite)'; known: persistence\n".utf8))
    exit(2)
}
