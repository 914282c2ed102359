import ArgumentParser
import Foundation
import RedML

/// `redml models download NAME [V] --out FILE`: a version's weights, verified, to a file.
struct ModelsDownloadCommand: AsyncParsableCommand {
    /// The command's name and help.
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Write a version's weights to a file, verified against their SHA-256 (default: the active version).",
        discussion: """
            The weights are streamed to a temporary file next to --out and renamed over it only once \
            every byte was verified, so --out is never left half-written or unverified. \
            --json prints {"model", "version", "file", "sha256", "bytes"}.
            """
    )

    /// The store and output options.
    @OptionGroup var options: StoreOptions

    /// The model.
    @Argument(help: ArgumentHelp("The model's name.", valueName: "name"))
    var name: String

    /// The version, or the active one.
    @Argument(help: ArgumentHelp("The version number; default: the active version.", valueName: "version"))
    var version: UInt32?

    /// Where to write.
    @Option(help: ArgumentHelp("The file to write (replaced if it exists).", valueName: "file"))
    var out: String

    private struct Result: Encodable {
        var model: String
        var version: UInt32
        var file: String
        var sha256: String
        var bytes: Int64
    }

    /// Checks the options before anything is opened (a bad one exits 64, as any usage error).
    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("--out is empty; pass the file to write the weights to") }
        if FilePaths.isDirectory(out) {
            throw ValidationError("--out \(out) is a directory; pass a file path in it, such as \(out)/weights.bin")
        }
    }

    /// Downloads the weights.
    func run() async throws {
        let destination = URL(fileURLWithPath: out)
        let directory = destination.deletingLastPathComponent()
        guard FilePaths.isDirectory(directory.path) else {
            throw CLIError.invalidArgument(
                "cannot write \(out): directory \(directory.path) does not exist; create it or choose another --out")
        }
        let temporary = directory.appendingPathComponent(".\(destination.lastPathComponent).partial-\(UUID().uuidString)")
        // The weights go to a hidden file beside --out first: a directory that takes no new file is named
        // here, as what the operator chose, not as that file's name.
        let probe = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard probe >= 0 else {
            let reason = String(cString: strerror(errno))
            throw CLIError.invalidArgument(
                "cannot write \(out): \(reason) (creating a file in \(directory.path)); choose another --out")
        }
        close(probe)
        // Gone once moved into place; left only by a failure, which this removes.
        defer { try? FileManager.default.removeItem(at: temporary) }
        let result = try await options.withRegistry(create: false) { registry in
            let number = try await resolveVersion(registry)
            let found = try await registry.version(name, number)
            try await registry.downloadWeights(of: name, version: number, to: temporary)
            try AtomicFile.move(temporary, over: destination)
            return Result(model: name, version: number, file: out, sha256: found.weights.sha256, bytes: found.weights.size)
        }
        if options.json {
            try Console.json(result)
        } else {
            Console.line(
                "wrote version \(result.version) of '\(name)' to \(out) (\(ByteCount.format(result.bytes)), "
                    + "sha256 \(result.sha256) verified)")
        }
    }

    /// The version asked for, or the active one.
    private func resolveVersion(_ registry: MLModelRegistry) async throws -> UInt32 {
        if let version { return version }
        guard let active = try await registry.model(name).activeVersion else {
            throw CLIError(
                "model '\(name)' has no active version; pass a version number, such as "
                    + "`redml models download \(ShellWord.quote(name)) 1 --out \(ShellWord.quote(out))`")
        }
        return active
    }
}

/// Puts a finished file in place in one step.
enum AtomicFile {
    /// Renames `source` to `destination`, replacing it atomically (rename(2)).
    ///
    /// - Throws: ``CLIError`` naming both paths and the system's reason.
    static func move(_ source: URL, over destination: URL) throws {
        guard rename(source.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            throw CLIError("cannot move the downloaded weights to \(destination.path): \(reason); check --out")
        }
    }
}
