import RedML
import RedMLRuntime
import Testing

/// The `KIND=COMMAND` syntax of `redml worker --exec` and the handler's own checks.
@Suite("External handler: parsing and configuration")
struct ExternalHandlerParseTests {
    @Test func parsesKindAndCommand() throws {
        let parsed = try MLExternalHandler.parse("train=python3 train.py")
        #expect(parsed.kind == .train)
        #expect(parsed.command == "python3 train.py")
    }

    @Test func splitsAtTheFirstEqualsSignAndTrims() throws {
        let parsed = try MLExternalHandler.parse("  drift.v2 = env MODE=fast ./drift --all ")
        #expect(parsed.kind == MLJob.Kind(rawValue: "drift.v2"))
        #expect(parsed.command == "env MODE=fast ./drift --all")
    }

    @Test(arguments: [
        ("python3 train.py", MLExternalHandlerError.Code.missingSeparator),
        ("=python3 train.py", .emptyKind),
        ("  =python3 train.py", .emptyKind),
        ("train=", .emptyCommand),
        ("train=   ", .emptyCommand),
        ("my kind=run", .invalidKind),
        ("tr/ain=run", .invalidKind),
        (String(repeating: "k", count: 65) + "=run", .invalidKind),
    ])
    func refusesMalformedArguments(_ argument: String, _ code: MLExternalHandlerError.Code) {
        #expect {
            try MLExternalHandler.parse(argument)
        } throws: { error in
            guard let error = error as? MLExternalHandlerError else { return false }
            return error.code == code && !error.message.isEmpty
        }
    }

    @Test func theMissingSeparatorMessageShowsTheExpectedForm() {
        #expect {
            try MLExternalHandler.parse("train")
        } throws: { error in
            "\(error)".contains("KIND=COMMAND") && "\(error)".contains("'train'")
        }
    }

    @Test func theDefaultsAreTheDocumentedOnes() {
        let configuration = MLExternalHandler.Configuration()
        #expect(configuration.shell == ["/bin/sh", "-c"])
        #expect(configuration.workingDirectory == nil)
        #expect(configuration.environment.isEmpty)
        #expect(configuration.terminationGracePeriod == .seconds(5))
        #expect(configuration.stderrTailBytes == 4_096)
        #expect(configuration.maxLineBytes == 1_048_576)
    }

    @Test func refusesAnEmptyCommandOrShell() {
        #expect { try MLExternalHandler(command: "  ") } throws: { ($0 as? MLExternalHandlerError)?.code == .emptyCommand }
        var configuration = MLExternalHandler.Configuration()
        configuration.shell = []
        #expect { try MLExternalHandler(command: "true", configuration: configuration) } throws: {
            ($0 as? MLExternalHandlerError)?.code == .invalidConfiguration
        }
        configuration = MLExternalHandler.Configuration()
        configuration.stderrTailBytes = 0
        #expect { try MLExternalHandler(command: "true", configuration: configuration) } throws: {
            ($0 as? MLExternalHandlerError)?.code == .invalidConfiguration
        }
    }
}
