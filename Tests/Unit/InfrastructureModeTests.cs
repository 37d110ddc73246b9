using Aspire.Hosting;
using Herald.AppHost.Infrastructure;

namespace Herald.Tests.Unit;

public sealed class InfrastructureModeTests
{
    [Theory]
    [InlineData("Local", InfrastructureMode.Local)]
    [InlineData("containers", InfrastructureMode.Containers)]
    public void The_setting_forces_a_mode(string setting, InfrastructureMode expected)
    {
        var builder = DistributedApplication.CreateBuilder([$"--{InfrastructureModes.Setting}={setting}"]);

        Assert.Equal(expected, InfrastructureModes.Detect(builder).Mode);
    }

    [Fact]
    public void Publishing_always_describes_containers()
    {
        var builder = DistributedApplication.CreateBuilder(["--publisher", "manifest", "--output-path", "unused.json", $"--{InfrastructureModes.Setting}=Local"]);

        Assert.Equal(InfrastructureMode.Containers, InfrastructureModes.Detect(builder).Mode);
    }

    [Fact]
    public void An_unknown_mode_is_an_error_that_names_the_choices()
    {
        var builder = DistributedApplication.CreateBuilder([$"--{InfrastructureModes.Setting}=Kubernetes"]);

        var error = Assert.Throws<DistributedApplicationException>(() => InfrastructureModes.Detect(builder));
        Assert.Contains("Auto, Containers or Local", error.Message);
    }
}
