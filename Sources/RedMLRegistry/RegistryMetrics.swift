import Metrics

/// The registry's swift-metrics instruments. They report to the factory in the
/// registry's configuration, else to whatever metrics backend the application
/// bootstrapped (none by default).
struct RegistryMetrics: Sendable {
    let factory: any MetricsFactory

    /// One count per history event a committed change wrote (`registered`,
    /// `activated`, `alias_moved`, `archived`, …).
    func committed(_ kinds: [MLRegistryEvent.Kind]) {
        for kind in kinds {
            Counter(label: "redml_registry_operations_total", dimensions: [("operation", kind.rawValue)], factory: factory)
                .increment()
        }
    }
}
