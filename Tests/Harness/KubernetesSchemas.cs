using System.ComponentModel;
using Herald.AppHost.Infrastructure.Local;
using k8s;

namespace Herald.Tests.Harness;

/// <summary>
/// Kubernetes objects checked against the Kubernetes OpenAPI schemas, as kubernetes-models (npm) compiles them, in a node
/// of its own: what the API server's validation would refuse fails here. Installed once per machine.
/// </summary>
public static class KubernetesSchemas
{
    private static readonly SemaphoreSlim Install = new(1, 1);

    /// <summary>Fails the test with the validator's verdict on each invalid object.</summary>
    public static async Task AssertValidAsync(IReadOnlyCollection<object> objects)
    {
        var validator = await ValidatorAsync();
        var file = Path.Combine(validator, $"objects-{Guid.NewGuid():N}.json");
        // Written as the client would send them.
        await File.WriteAllTextAsync(file, "[" + string.Join(",", objects.Select(o => KubernetesJson.Serialize(o))) + "]");
        try
        {
            var result = await RunAsync("node", [Path.Combine(validator, "validate.mjs"), file], "nodejs");
            Assert.True(result.ExitCode == 0, result.Output);
            Assert.Equal(objects.Count, result.Output.Split('\n').Count(l => l.StartsWith("valid ", StringComparison.Ordinal)));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<string> ValidatorAsync()
    {
        var validator = Path.Combine(Path.GetTempPath(), "herald-kubernetes-models");
        await Install.WaitAsync();
        try
        {
            Directory.CreateDirectory(validator);
            foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Harness", "KubernetesSchemas")))
                File.Copy(file, Path.Combine(validator, Path.GetFileName(file)), overwrite: true);
            if (!Directory.Exists(Path.Combine(validator, "node_modules", "kubernetes-models")))
            {
                var install = await RunAsync("npm", ["install", "--no-audit", "--no-fund", "--prefix", validator], "npm");
                Assert.True(install.ExitCode == 0, $"npm install kubernetes-models failed: {install.Output}");
            }
            return validator;
        }
        finally
        {
            Install.Release();
        }
    }

    private static async Task<ProcessResult> RunAsync(string tool, string[] arguments, string package)
    {
        try
        {
            return await LocalProcess.RunAsync(tool, arguments, TimeSpan.FromMinutes(3), CancellationToken.None);
        }
        catch (Win32Exception)
        {
            throw new InvalidOperationException($"{tool} is not installed: apt-get install {package}.");
        }
    }
}
