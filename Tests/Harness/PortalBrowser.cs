using Microsoft.Playwright;

namespace Herald.Tests.Harness;

/// <summary>
/// Debian's chromium, driven by Playwright, shared by the portal's browser tests. Playwright's own browser download is
/// not used: the browser is the one on the PATH (CI installs the <c>chromium</c> package). Each test gets its own
/// context (cookies, viewport); screenshots go to <c>TestResults/portal</c> next to the test assembly's output.
/// </summary>
public sealed class PortalBrowser : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string ScreenshotDirectory { get; } =
        Path.Combine(AppContext.BaseDirectory, "TestResults", "portal");

    public async Task InitializeAsync()
    {
        var chromium = FindOnPath("chromium")
            ?? throw new InvalidOperationException("The portal tests need Debian's chromium on the PATH: apt-get install chromium.");
        _playwright = await Playwright.CreateAsync();
        // Everything here runs as root, where chromium's sandbox cannot start.
        Browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    public async Task<IPage> NewPageAsync(Uri baseUrl, int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new() { BaseURL = baseUrl.ToString(), ViewportSize = new() { Width = width, Height = height } });
        context.SetDefaultTimeout(15_000);
        return await context.NewPageAsync();
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
}
