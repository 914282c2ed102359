#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The blocking halves of running a program, each on a dedicated thread so
/// that none of them holds a thread of Swift's small cooperative pool. Each
/// thread owns its descriptor and closes it when done.
enum ProgramPumps {
    /// Writes `bytes` to the program's stdin, then closes it. A program that
    /// exits without reading its input is fine: the write fails quietly.
    static func feed(_ bytes: [UInt8], to descriptor: Int32) {
        start("redml-exec-stdin") {
            // A write to a closed pipe raises SIGPIPE on the writing thread: blocked here,
            // it becomes an EPIPE error, and the pending signal ends with the thread.
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written == -1 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
            }
            close(descriptor)
        }
    }

    /// Reads stdout until end of file, posting each line (cut at `lineLimit`
    /// bytes), then ``ProgramEvent/stdoutClosed``.
    static func readLines(from descriptor: Int32, lineLimit: Int, into events: ProgramEvents) {
        start("redml-exec-stdout") {
            var splitter = LineSplitter(limit: lineLimit)
            readUntilEnd(descriptor) { chunk in
                splitter.append(chunk) { events.post(.line($0)) }
            }
            if let last = splitter.finish() { events.post(.line(last)) }
            close(descriptor)
            events.post(.stdoutClosed)
        }
    }

    /// Reads stderr until end of file, keeping only its last `tailBytes`
    /// bytes, then posts them with ``ProgramEvent/stderrClosed(tail:)``.
    static func readTail(from descriptor: Int32, tailBytes: Int, into events: ProgramEvents) {
        start("redml-exec-stderr") {
            var tail: [UInt8] = []
            readUntilEnd(descriptor) { chunk in
                tail.append(contentsOf: chunk.suffix(tailBytes))
                if tail.count > tailBytes { tail.removeFirst(tail.count - tailBytes) }
            }
            close(descriptor)
            events.post(.stderrClosed(tail: tail))
        }
    }

    /// Waits for the program to exit without reaping it, then posts ``ProgramEvent/exited``.
    ///
    /// Leaving it a zombie keeps its process (group) id reserved, so the run
    /// can still signal the group safely until it calls ``ChildProcess/reap()``.
    static func watchExit(of pid: pid_t, into events: ProgramEvents) {
        start("redml-exec-wait") {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
            events.post(.exited)
        }
    }

    private static func readUntilEnd(_ descriptor: Int32, _ body: (UnsafeRawBufferPointer) -> Void) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress!, buffer.count)
            if count > 0 {
                body(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            } else if count == -1 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    private static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }
}

/// Cuts a byte stream into lines at `\n`, keeping at most `limit` bytes of each.
struct LineSplitter {
    let limit: Int
    private var pending: [UInt8] = []
    private var truncated = false

    init(limit: Int) { self.limit = limit }

    /// Adds bytes, calling `emit` for every line they complete.
    mutating func append(_ bytes: UnsafeRawBufferPointer, _ emit: (OutputLine) -> Void) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: UInt8(ascii: "\n"))
            let piece = rest[..<(newline ?? rest.endIndex)]
            let room = max(0, limit - pending.count)
            pending.append(contentsOf: piece.prefix(room))
            if piece.count > room { truncated = true }
            guard let newline else { return }
            emit(take())
            rest = rest[(newline + 1)...]
        }
    }

    /// The unterminated last line, if the stream ended with one.
    mutating func finish() -> OutputLine? {
        pending.isEmpty && !truncated ? nil : take()
    }

    private mutating func take() -> OutputLine {
        defer {
            pending.removeAll(keepingCapacity: true)
            truncated = false
        }
        return OutputLine(text: String(decoding: pending, as: UTF8.self), truncated: truncated)
    }
}
