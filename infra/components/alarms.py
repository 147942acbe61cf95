"""Alarms that say a run did not reach the archive, and where they are sent."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from ..settings import Settings
from ._checkov import skip_checks

PERIOD = Duration.minutes(5)


class Alarms(Construct):
    """A refused or failing run lands in the DLQ; errors, throttles and a stuck queue come first.

    ``topic`` exists only when an alarm e-mail is configured; the alarms exist either way.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        at_least_one = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        not_breaching = cloudwatch.TreatMissingData.NOT_BREACHING
        self.dead_letters = cloudwatch.Alarm(
            self,
            "DeadLetters",
            alarm_description="A run was refused or kept failing: its message is in the dead-letter queue",
            metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=at_least_one,
            treat_missing_data=not_breaching,
        )
        self.errors = cloudwatch.Alarm(
            self,
            "FilerErrors",
            alarm_description="The filer function failed (crash, timeout or out of memory)",
            metric=function.metric_errors(period=PERIOD, statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=at_least_one,
            treat_missing_data=not_breaching,
        )
        self.throttles = cloudwatch.Alarm(
            self,
            "FilerThrottles",
            alarm_description="The filer was throttled: runs wait in the queue",
            metric=function.metric_throttles(period=PERIOD, statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=at_least_one,
            treat_missing_data=not_breaching,
        )
        self.oldest_message = cloudwatch.Alarm(
            self,
            "OldestMessageAge",
            alarm_description="A committed run has waited too long to be filed",
            metric=queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
            threshold=settings.oldest_message_age_alarm_minutes * 60,
            evaluation_periods=1,
            comparison_operator=at_least_one,
            treat_missing_data=not_breaching,
        )
        self.alarms = [self.dead_letters, self.errors, self.throttles, self.oldest_message]
        self.topic: sns.Topic | None = None
        if settings.alarm_email:
            self.topic = sns.Topic(self, "Topic", display_name="artifact-backup alarms", enforce_ssl=True)
            skip_checks(self.topic, ("CKV_AWS_26", "Alarm notifications carry an alarm's name and state, "
                                     "no data; CloudWatch alarms cannot publish to a topic under the "
                                     "AWS-managed SNS key, and a customer key adds a fee for nothing."))
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
            NagSuppressions.add_resource_suppressions(
                self.topic,
                [
                    NagPackSuppression(
                        id="AwsSolutions-SNS2",
                        reason=(
                            "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed "
                            "SNS key, and the alarm messages carry no artifact data, so a customer "
                            "managed key would add a monthly cost and no protection."
                        ),
                    )
                ],
            )
            for alarm in self.alarms:
                alarm.add_alarm_action(actions.SnsAction(self.topic))
                alarm.add_ok_action(actions.SnsAction(self.topic))
