using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Herald.Bench;

/// <summary>
/// The log of the AppHost a benchmark starts in-process: all of it (at the levels configured) goes to a file, and only an
/// error that matters reaches the console, on one line without its stack trace, so it cannot bury a table. Health checks
/// failing (Herald starting, stopping, or under a fault) and the resources' own output never reach the console: they
/// fail by design here, and the faults benchmark keeps the resources' output per row.
/// </summary>
public sealed class AppHostLog(string path) : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly StreamWriter _file = OpenFile(path);

    public string Path { get; } = path;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
        lock (_gate) _file.Dispose();
    }

    private static StreamWriter OpenFile(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        return new StreamWriter(path, append: true) { AutoFlush = true };
    }

    private static bool ReachesConsole(string category, LogLevel level) =>
        level >= LogLevel.Error
        && !category.StartsWith("Microsoft.Extensions.Diagnostics.HealthChecks", StringComparison.Ordinal)
        // Resource output is forwarded as "<AppHost>.Resources.<resource>" (PostgreSQL writes all of its log to stderr).
        && !category.Contains(".Resources.", StringComparison.Ordinal);

    private void Write(string category, LogLevel level, string message, Exception? exception)
    {
        var at = DateTime.Now.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        lock (_gate)
        {
            try
            {
                _file.WriteLine($"{at} {level} {category}: {message}");
                if (exception is not null) _file.WriteLine(exception);
            }
            catch (ObjectDisposedException)
            {
                // A late line from a background service after the benchmark closed the log.
            }
        }
        if (ReachesConsole(category, level))
        {
            var cause = exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})";
            Console.Error.WriteLine($"AppHost {level.ToString().ToLowerInvariant()}: {message}{cause} — details in {Path}");
        }
    }

    private sealed class Logger(AppHostLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) log.Write(category, logLevel, formatter(state, exception), exception);
        }
    }
}
