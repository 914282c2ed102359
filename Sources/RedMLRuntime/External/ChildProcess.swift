#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// A program started with `posix_spawn` as the leader of a process group of
/// its own, with pipes for its standard streams.
///
/// Foundation's `Process` cannot make the child a group leader on Linux, and
/// signalling the group is what stops a shell *and* whatever it started.
struct ChildProcess: Sendable {
    /// How the program ended.
    enum Termination: Equatable, Sendable {
        /// It exited with this status.
        case exited(Int32)
        /// A signal killed it.
        case signaled(Int32)
        /// Its status was lost: something else in this process reaped it (SIGCHLD ignored?).
        case unknown
    }

    /// The process groups of the programs spawned here and not yet reaped.
    ///
    /// A pid leaves the set, under its lock, before it is reaped: until then the
    /// group leader is at least a zombie, so signalling the set under the same
    /// lock never reaches a process that took over a reused id.
    private static let unreaped = Mutex<Set<pid_t>>([])

    /// Sends `signal` to the process group of every program spawned here and
    /// not yet reaped; returns how many groups it signalled.
    static func signalEveryGroup(_ signal: Int32) -> Int {
        unreaped.withLock { groups in
            for group in groups { _ = kill(-group, signal) }
            return groups.count
        }
    }

    /// Its process id, which is also its process group id.
    let pid: pid_t
    /// The write end of its stdin.
    let stdin: Int32
    /// The read end of its stdout.
    let stdout: Int32
    /// The read end of its stderr.
    let stderr: Int32

    /// Starts `arguments[0]` (searched in `PATH` if it has no `/`) with
    /// `arguments` as its argv and exactly `environment` (`NAME=value`) as its environment.
    ///
    /// The child gets default signal dispositions and an empty signal mask (a
    /// server that ignores SIGPIPE must not pass that on), and no open file
    /// descriptor of this process other than its three pipes.
    static func spawn(
        arguments: [String], environment: [String], workingDirectory: String?
    ) throws(MLExternalHandlerError) -> ChildProcess {
        var pipes: [(read: Int32, write: Int32)] = []
        for name in ["stdin", "stdout", "stderr"] {
            do throws(MLExternalHandlerError) {
                pipes.append(try makePipe(name))
            } catch {
                for pipe in pipes { closeAll(pipe.read, pipe.write) }
                throw error
            }
        }
        let (stdinPipe, stdoutPipe, stderrPipe) = (pipes[0], pipes[1], pipes[2])
        // The child's ends are closed here whatever happens; the parent's only on failure.
        defer { closeAll(stdinPipe.read, stdoutPipe.write, stderrPipe.write) }

        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        var attributes: posix_spawnattr_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe.write, 2)
        var flags = Int32(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        #if canImport(Darwin)
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #else
        // Descriptors this process opened without close-on-exec (database files, sockets) stay here.
        _ = SpawnExtensions.addCloseFrom?(&actions, 3)
        #endif
        if let workingDirectory {
            let result = SpawnExtensions.addChdir(&actions, workingDirectory)
            guard result == 0 else {
                closeAll(stdinPipe.write, stdoutPipe.read, stderrPipe.read)
                throw MLExternalHandlerError(
                    code: .spawnFailed, message: "could not use working directory '\(workingDirectory)'",
                    underlying: POSIXErrorCode(rawValue: result).map { POSIXError($0) })
            }
        }
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            closeAll(stdinPipe.write, stdoutPipe.read, stderrPipe.read)
            let reason = String(cString: strerror(result))
            throw MLExternalHandlerError(
                code: .spawnFailed,
                message: "could not start '\(arguments[0])'\(workingDirectory.map { " in '\($0)'" } ?? ""): \(reason)",
                underlying: POSIXErrorCode(rawValue: result).map { POSIXError($0) })
        }
        Self.unreaped.withLock { _ = $0.insert(pid) }
        return ChildProcess(pid: pid, stdin: stdinPipe.write, stdout: stdoutPipe.read, stderr: stderrPipe.read)
    }

    /// Sends `signal` to the program's whole process group.
    ///
    /// Only call this before ``reap()``: until then the group leader is at
    /// least a zombie, so its id cannot belong to another process.
    func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// Collects the exit status of a program that has exited (see ``ExitWatch``), freeing its process id.
    func reap() -> Termination {
        Self.unreaped.withLock { _ = $0.remove(pid) }
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid { break }
            if result == -1 && errno == EINTR { continue }
            return .unknown
        }
        // The <sys/wait.h> macros, which Swift does not import: low 7 bits the signal, next 8 the exit status.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }

    private static func makePipe(_ name: String) throws(MLExternalHandlerError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        // Swift does not import pipe2; a program another thread spawns meanwhile may
        // inherit these two until exec, which is why every spawn here closes all but 0–2.
        let result = pipe(&fds)
        if result == 0 {
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        guard result == 0 else {
            let code = errno
            throw MLExternalHandlerError(
                code: .spawnFailed, message: "could not create the \(name) pipe: \(String(cString: strerror(code)))",
                underlying: POSIXErrorCode(rawValue: code).map { POSIXError($0) })
        }
        return (fds[0], fds[1])
    }

    private static func closeAll(_ descriptors: Int32...) {
        for descriptor in descriptors { close(descriptor) }
    }
}

/// The non-portable `posix_spawn` file actions: Swift's Glibc module does
/// not import them, so they are looked up at run time (glibc 2.29 and 2.34 added them).
private enum SpawnExtensions {
    #if canImport(Darwin)
    static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t?>, _ path: String) -> Int32 {
        posix_spawn_file_actions_addchdir_np(actions, path)
    }
    #else
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// Looks `name` up in the global scope (`RTLD_DEFAULT`, a null handle in glibc).
    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(nil, name)
    }

    private static let chdirFunction = symbol("posix_spawn_file_actions_addchdir_np").map {
        unsafeBitCast($0, to: AddChdir.self)
    }

    /// Closes every descriptor from the given one up in the child, when the C library has it.
    static let addCloseFrom = symbol("posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: AddCloseFrom.self)
    }

    static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) -> Int32 {
        guard let chdirFunction else { return ENOSYS }
        return chdirFunction(actions, path)
    }
    #endif
}
