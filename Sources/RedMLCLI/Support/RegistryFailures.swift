import RedML

extension CLIError {
    /// A registry failure as one line that says what was wrong and what to do.
    ///
    /// It adds what the registry's message cannot know, such as the latest
    /// version of the model, and the `redml` command that shows or fixes it.
    static func explaining(_ error: MLRegistryError, registry: MLModelRegistry) async -> CLIError {
        var failure = await explanation(error, registry: registry)
        failure.code = error.code.rawValue
        return failure
    }

    private static func explanation(_ error: MLRegistryError, registry: MLModelRegistry) async -> CLIError {
        let model = error.model ?? "?"
        let quoted = ShellWord.quote(model)
        switch error.code {
        case .unknownModel:
            return CLIError("\(error.message); list models with `redml models list`")
        case .unknownVersion:
            var message = error.message
            guard let latest = try? await registry.model(model).latestVersion else {
                // No such model yet (`models register --parent` of a new one): listing its versions would fail.
                return CLIError("\(message); model '\(model)' has no versions yet")
            }
            if !message.contains("latest is") { message += " (latest is \(latest))" }
            return CLIError("\(message); list its versions with `redml models versions \(quoted)`")
        case .unknownAlias:
            return CLIError("\(error.message); its aliases are listed by `redml models show \(quoted)`")
        case .versionArchived:
            let version = error.version.map(String.init) ?? "V"
            return CLIError("\(error.message) with `redml models unarchive \(quoted) \(version)`")
        case .versionInUse:
            let version = error.version.map(String.init) ?? "V"
            return CLIError("\(error.message) (`redml models archive \(quoted) \(version) --force`)")
        case .contention:
            return CLIError("\(error.message); run the command again")
        case .weightsCorrupt:
            return CLIError("\(error.message); \(CLIError.damageAdvice)")
        default:
            if let underlying = error.underlying {
                return CLIError(underlying, context: error.message)
            }
            return CLIError(error.message)
        }
    }
}

/// Quotes words for the commands suggested in messages, so they can be pasted.
enum ShellWord {
    /// `word` as it is when it is safe in a shell, else in single quotes.
    static func quote(_ word: String) -> String {
        let safe = !word.isEmpty && word.unicodeScalars.allSatisfy {
            ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "._-@/:+=,".unicodeScalars.contains($0)
        }
        return safe ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
