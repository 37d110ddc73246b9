using System.Text.Json;
using Herald.Tests.Harness;

namespace Herald.Tests.Observability;

/// <summary>Issue 5, "must show" 3: the alert rules pass <c>promtool check rules</c> and behave as their unit tests
/// say; the Grafana dashboard is valid JSON whose panels all query Prometheus.</summary>
public sealed class AlertRulesTests
{
    [Fact]
    public async Task Alert_rules_pass_promtool_check_rules()
    {
        var files = ObservabilityFiles.RuleFiles.ToList();
        Assert.NotEmpty(files);
        var (exitCode, output) = await Promtool.RunAsync(["check", "rules", .. files]);
        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task Alerts_fire_as_their_promtool_unit_tests_expect()
    {
        var tests = Directory.EnumerateFiles(ObservabilityFiles.Directory, "*.rules.test.yml").ToList();
        Assert.NotEmpty(tests);
        var (exitCode, output) = await Promtool.RunAsync(["test", "rules", .. tests]);
        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public void The_dashboard_is_grafana_json_with_a_prometheus_query_in_every_panel()
    {
        var dashboards = Directory.EnumerateFiles(ObservabilityFiles.Directory, "*.json").ToList();
        Assert.NotEmpty(dashboards);
        foreach (var file in dashboards)
        {
            using var dashboard = JsonDocument.Parse(File.ReadAllText(file));
            var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
            Assert.NotEmpty(panels);
            Assert.All(panels, panel =>
            {
                var targets = panel.GetProperty("targets").EnumerateArray().ToList();
                Assert.NotEmpty(targets);
                Assert.All(targets, target => Assert.False(string.IsNullOrWhiteSpace(target.GetProperty("expr").GetString()), panel.GetProperty("title").GetString()));
            });
        }
    }
}
