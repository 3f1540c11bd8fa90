using PureLlama.Training;

namespace PureLlama.Tests.Training;

/// <summary>
/// Values worked out by hand from transformers' get_*_schedule_with_warmup lambdas
/// (warmup s/max(1,W); linear (T−s)/max(1,T−W); cosine ½(1+cos(π·2c·p))).
/// </summary>
public class LearningRateScheduleTests
{
    [Fact]
    public void Constant_ignores_the_step()
    {
        var s = LearningRateSchedule.Constant(3e-4f);
        s.RateAt(0).Should().Be(3e-4f);
        s.RateAt(1000).Should().Be(3e-4f);
    }

    [Fact]
    public void Constant_with_warmup_ramps_linearly_from_zero()
    {
        var s = LearningRateSchedule.ConstantWithWarmup(1f, 4);
        s.Factor(0).Should().Be(0);        // 0/4
        s.Factor(1).Should().Be(0.25);     // 1/4
        s.Factor(3).Should().Be(0.75);     // 3/4
        s.Factor(4).Should().Be(1);
        s.Factor(99).Should().Be(1);
    }

    [Fact]
    public void Linear_warms_up_then_decays_to_zero_at_the_last_step()
    {
        var s = LearningRateSchedule.Linear(2e-3f, warmupSteps: 10, totalSteps: 100);
        s.Factor(0).Should().Be(0);
        s.Factor(5).Should().Be(0.5);                       // 5/10
        s.Factor(10).Should().Be(1);                        // (100−10)/90
        s.Factor(55).Should().Be(0.5);                      // 45/90
        s.Factor(91).Should().BeApproximately(0.1, 1e-15);  // 9/90
        s.Factor(100).Should().Be(0);
        s.Factor(130).Should().Be(0);                       // max(0, −30/90)
        s.RateAt(55).Should().Be(1e-3f);
        LearningRateSchedule.Linear(1f, 0, 8).Factor(0).Should().Be(1);   // no warmup: 8/8
        LearningRateSchedule.Linear(1f, 0, 8).Factor(2).Should().Be(0.75); // 6/8
    }

    [Fact]
    public void Cosine_warms_up_then_follows_half_a_cosine()
    {
        var s = LearningRateSchedule.Cosine(1f, warmupSteps: 10, totalSteps: 110);
        s.Factor(3).Should().BeApproximately(0.3, 1e-15);
        s.Factor(10).Should().Be(1);                                          // p = 0: ½(1+cos 0)
        s.Factor(35).Should().BeApproximately(0.5 * (1 + Math.Sqrt(0.5)), 1e-15); // p = ¼: ½(1+cos π/4) = 0.853553…
        s.Factor(60).Should().BeApproximately(0.5, 1e-15);                    // p = ½: ½(1+cos π/2)
        s.Factor(85).Should().BeApproximately(0.5 * (1 - Math.Sqrt(0.5)), 1e-15); // p = ¾: 0.146446…
        s.Factor(110).Should().BeApproximately(0, 1e-15);                     // p = 1: ½(1+cos π)
        s.Factor(120).Should().BeApproximately(0.5 * (1 + Math.Cos(Math.PI * 1.1)), 1e-15); // transformers does not clamp p: it rises again
        LearningRateSchedule.Cosine(1f, 0, 4, cycles: 1).Factor(2).Should().BeApproximately(0, 1e-15); // full cycle: ½(1+cos(2π·½))
    }

    [Fact]
    public void Parse_knows_the_transformers_names_and_rejects_others()
    {
        LearningRateSchedule.Parse("cosine", 1f, 2, 10).Kind.Should().Be(ScheduleKind.Cosine);
        LearningRateSchedule.Parse("linear", 1f, 2, 10).Kind.Should().Be(ScheduleKind.Linear);
        LearningRateSchedule.Parse("constant", 1f, 2, 10).Kind.Should().Be(ScheduleKind.ConstantWithWarmup);
        LearningRateSchedule.Parse("constant", 1f, 0, 10).Kind.Should().Be(ScheduleKind.Constant);
        var act = () => LearningRateSchedule.Parse("polynomial", 1f, 2, 10);
        act.Should().Throw<ArgumentException>().WithMessage("*polynomial*");
        var noTotal = () => LearningRateSchedule.Linear(1f, 2, 0);
        noTotal.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*total*");
    }
}
