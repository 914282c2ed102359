// swift-tools-version:6.0
// The least an in-memory job queue with RedML's bookkeeping must do, with none
// of RedML in the way: `scripts/queue-floor` builds and runs it. It has no
// dependencies, so it builds in seconds, apart from the main package.
import PackageDescription

let package = Package(
    name: "QueueFloor",
    targets: [
        .executableTarget(name: "QueueFloor", swiftSettings: [.swiftLanguageMode(.v6)]),
    ]
)
