//! Every label and heading of the sheets and reports, in English and Simplified Chinese, from
//! one table: a text has both or the crate does not compile.

pub use patrol_site::Language;

/// Declares [`Text`] and its two translations in one table.
macro_rules! texts {
    ($($name:ident => ($en:expr, $zh:expr),)*) => {
        /// A label or heading of a sheet or report.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Text {
            $(
                #[doc = $en]
                $name,
            )*
        }

        impl Text {
            /// Every text, in table order.
            pub const ALL: &'static [Text] = &[$(Text::$name,)*];

            /// The text in `lang`.
            pub fn get(self, lang: Language) -> &'static str {
                match (self, lang) {
                    $(
                        (Text::$name, Language::En) => $en,
                        (Text::$name, Language::ZhCn) => $zh,
                    )*
                }
            }
        }
    };
}

texts! {
    // The inspection sheet.
    SheetTitle => ("Inspection sheet", "巡检记录表"),
    Schedule => ("Schedule", "巡检计划"),
    InspectedAt => ("Inspection time", "巡检时间"),
    Period => ("Period", "统计区间"),
    PreviousInspection => ("since the previous inspection", "自上次巡检"),
    Summary => ("Summary", "概况"),
    ObjectsChecked => ("Objects checked", "巡检对象"),
    ChecksMade => ("Checks", "检查项"),
    AbnormalObjects => ("Abnormal objects", "异常对象"),
    AbnormalChecks => ("Abnormal checks", "异常项"),
    OpenIncidents => ("Open incidents", "未关闭故障"),
    PeriodIncidents => ("Incidents in the period", "本期故障"),
    NoData => (
        "No data for this date: no samples were recorded and no incidents were open.",
        "该日期无数据：未记录任何采样，也无故障。"
    ),
    Object => ("Object", "对象"),
    Check => ("Check", "检查项"),
    Value => ("Value", "当前值"),
    Worst => ("Worst since previous", "区间最差值"),
    Threshold => ("Threshold", "阈值"),
    Status => ("Status", "状态"),
    Remarks => ("Remarks", "备注"),
    Metric => ("Metric", "指标"),
    WorstAt => ("Worst at", "最差值时间"),
    Normal => ("normal", "正常"),
    Abnormal => ("abnormal", "异常"),
    Override => ("override", "单独阈值"),
    NoValue => ("no value", "无数据"),
    OtherIncidents => ("Other incidents of the period", "本期其他故障"),
    SignOff => ("Sign-off", "审核签字"),
    Reviewer => ("Reviewer", "审核人"),
    SignedAt => ("Time", "时间"),
    Note => ("Note", "意见"),
    Generated => ("Generated", "生成时间"),
    // The mail a scheduled sheet is sent in.
    MailAttached => (
        "The sheet is attached as a page: open it in a browser to read or print it.",
        "巡检记录表见附件（网页），可用浏览器打开查看或打印。"
    ),
    MailSignOff => ("To sign it off", "审核签字"),
    Site => ("Site", "站点"),
    // Object groups, in the handbook's order.
    GroupServers => ("Servers", "服务器"),
    GroupDatabases => ("Databases", "数据库"),
    GroupMiddleware => ("Middleware", "中间件"),
    GroupNetwork => ("Network and links", "网络与链路"),
    GroupGear => ("Storage and power gear (SNMP)", "存储与动力设备（SNMP）"),
    GroupOther => ("Other", "其他"),
    // Checks.
    CheckFans => ("Fans", "风扇"),
    CheckTemperature => ("Temperature", "温度"),
    CheckTemperatureHigh => ("Temperature above high limit", "温度超过上限"),
    CheckTemperatureCritical => ("Temperature critical", "温度达到临界值"),
    CheckPower => ("Power supplies and sensors", "电源与传感器"),
    CheckRaid => ("RAID degraded", "磁盘阵列（RAID）降级"),
    CheckCpu => ("CPU usage", "CPU 使用率"),
    CheckMemory => ("Memory usage", "内存使用率"),
    CheckSwap => ("Swap usage", "交换区使用率"),
    CheckDisk => ("Disk usage", "磁盘使用率"),
    CheckAgent => ("Agent reporting", "采集代理在线"),
    CheckProcess => ("Processes", "进程"),
    CheckListener => ("Listening ports", "监听端口"),
    CheckInstance => ("Instance up", "实例状态"),
    CheckTablespace => ("Tablespace usage", "表空间使用率"),
    CheckArchiveLog => ("Archive log usage", "归档日志使用率"),
    CheckArchiveDest => ("Archive destination errors", "归档目标错误"),
    CheckRecoveryArea => ("Recovery area usage", "闪回恢复区使用率"),
    CheckSessions => ("Sessions", "会话数"),
    CheckProcessesDb => ("Database processes", "数据库进程数"),
    CheckBackup => ("Last good backup", "最近成功备份"),
    CheckBackups => ("Backups on record", "备份记录数"),
    CheckAlertLog => ("Alert-log errors", "告警日志错误"),
    CheckDeadlocks => ("Deadlocks", "死锁"),
    CheckLocks => ("Blocking locks", "锁等待"),
    CheckDataGuard => ("Data Guard lag", "Data Guard 延迟"),
    CheckJobs => ("Scheduler jobs", "调度作业"),
    CheckLogUsage => ("Log usage", "日志空间使用率"),
    CheckStuckThreads => ("Stuck threads", "挂起线程"),
    CheckOutOfMemory => ("Out-of-memory errors", "内存溢出错误"),
    CheckLogReadable => ("Log readable", "日志可读"),
    CheckDeviceUp => ("Device answers (SNMP)", "设备应答（SNMP）"),
    CheckInterfaces => ("Interface down", "接口故障"),
    CheckInterfaceUp => ("Interface up (traps)", "接口状态（Trap）"),
    CheckReachable => ("Reachability", "连通性"),
    CheckLoss => ("Packet loss", "丢包率"),
    CheckLatency => ("Latency", "延迟"),
    CheckRoute => ("Route changed", "路由变化"),
    CheckService => ("Service checks", "服务检查"),
    CheckCertificate => ("Certificate expiry", "证书有效期"),
    CheckUps => ("UPS on battery", "UPS 电池供电"),
    CheckUpsAlarms => ("UPS alarms", "UPS 告警"),
    CheckUpsBattery => ("UPS battery", "UPS 电池"),
    CheckUpsBatteryLow => ("UPS battery low", "UPS 电池电量低"),
    CheckUpsLoad => ("UPS load", "UPS 负载"),
    CheckSensors => ("Sensors", "传感器"),
    CheckFc => ("FC port down", "FC 端口故障"),
    // State words.
    StateUp => ("up", "在线"),
    StateDown => ("down", "离线"),
    StateOk => ("OK", "正常"),
    StateFault => ("fault", "故障"),
    Yes => ("yes", "是"),
    No => ("no", "否"),
    // Incidents.
    IncidentOpen => ("open", "待处理"),
    IncidentAcknowledged => ("acknowledged", "已确认"),
    IncidentAssigned => ("assigned", "已派单"),
    IncidentWaiting => ("waiting", "等待中"),
    IncidentResolved => ("resolved", "已解决"),
    IncidentClosed => ("closed", "已关闭"),
    Opened => ("opened", "发生于"),
    AcknowledgedBy => ("acknowledged by", "确认人"),
    ResolvedAt => ("resolved", "解决于"),
    Resolution => ("resolution", "处理结果"),
    Level => ("Level", "级别"),
    Incident => ("Incident", "故障"),
    // The SLA report.
    SlaTitle => ("SLA report", "服务水平报告"),
    Incidents => ("Incidents", "故障数"),
    Respond => ("Respond", "响应"),
    FixPlan => ("Fix plan", "处理方案"),
    Resolve => ("Resolve", "解决"),
    DeadlinesMet => ("Deadlines met", "时限达成率"),
    MetCount => ("met", "达成"),
    LateCount => ("late or missed", "超时"),
    PendingCount => ("still running", "进行中"),
    NotNeededCount => ("not needed", "无需"),
    RatePercent => ("met %", "达成率 %"),
    Minutes => ("min", "分钟"),
    MeanRespond => ("Mean time to respond", "平均响应时长"),
    P95Respond => ("95th percentile to respond", "响应时长 95 分位"),
    MeanResolve => ("Mean time to resolve", "平均解决时长"),
    P95Resolve => ("95th percentile to resolve", "解决时长 95 分位"),
    BusinessTimeNote => (
        "Times are business time on each level's service calendar.",
        "时长均按各级别服务日历的工作时间计算。"
    ),
    Total => ("Total", "合计"),
    Availability => ("Availability", "可用率"),
    AvailabilityNote => (
        "Outage: incidents at the counted levels, from opening (or the end of the maintenance window they opened in) to resolution, over the service calendar's working time.",
        "中断时间：计入级别的故障自发生（维护窗口内发生的自窗口结束）至解决的时长，按服务日历的工作时间计算。"
    ),
    ServiceCalendar => ("Service calendar", "服务日历"),
    CountedLevels => ("Levels counted", "计入级别"),
    ServiceTime => ("Service time", "服务时间"),
    Outage => ("Outage", "中断时间"),
    Nines => ("Nines", "几个 9"),
    Host => ("Host", "主机"),
    Group => ("Group", "分组"),
    ByHost => ("By host", "按主机"),
    ByLevel => ("By level", "按级别"),
    BySource => ("By source", "按来源"),
    ByAssignee => ("By assignee", "按处理人"),
    Resolved => ("Resolved", "已解决"),
    ResolvedInTime => ("Resolved in time", "按时解决"),
    ResolutionRate => ("Resolution rate", "故障解决率"),
    Nobody => ("(nobody)", "（无）"),
    // The monthly summary.
    MonthlyTitle => ("Monthly inspection summary", "月度巡检汇总"),
    Month => ("Month", "月份"),
    SheetsInMonth => ("Inspection sheets", "巡检记录数"),
    SheetsSigned => ("Signed off", "已审核"),
    AbnormalFindings => ("Abnormal findings", "异常汇总"),
    TimesAbnormal => ("Sheets abnormal", "异常次数"),
    FirstSeen => ("First", "首次"),
    LastSeen => ("Last", "最近"),
    IncidentsPerLevel => ("Incidents per level", "各级别故障数"),
    NoAbnormal => ("No abnormal finding this month.", "本月无异常。"),
    // The fault report.
    FaultTitle => ("Fault report", "故障报告"),
    Rule => ("Rule", "规则"),
    Labels => ("Labels", "标签"),
    SummaryLine => ("Summary", "描述"),
    Source => ("Source", "来源"),
    Assignee => ("Assignee", "处理人"),
    State => ("State", "状态"),
    Timeline => ("Timeline", "处理过程"),
    Time => ("Time", "时间"),
    Actor => ("Actor", "操作人"),
    Event => ("Event", "事件"),
    Detail => ("Detail", "详情"),
    Deadlines => ("Deadlines", "处理时限"),
    Clock => ("Clock", "时限"),
    Due => ("Due", "截止"),
    MetAt => ("Met at", "完成于"),
    Outcome => ("Outcome", "结果"),
    Notifications => ("Notifications", "通知记录"),
    Channel => ("Channel", "通道"),
    Route => ("Route", "路由"),
    Attempts => ("Attempts", "尝试次数"),
    NoNotifications => ("No notification was recorded.", "无通知记录。"),
    StandingMet => ("met", "按时"),
    StandingMetLate => ("met late", "超时完成"),
    StandingMissed => ("missed", "未完成"),
    StandingNotNeeded => ("not needed", "无需"),
    StandingRunning => ("running", "计时中"),
    StandingOverdue => ("overdue", "已超时"),
    Duration => ("Duration", "持续时间"),
    FactOpened => ("Opened", "发生时间"),
    FactAcknowledged => ("Acknowledged by", "确认人"),
    FactResolved => ("Resolved", "解决时间"),
    FactResolution => ("Resolution", "处理结果"),
    BusinessToResolve => ("Business time to resolve", "解决用时（工作时间）"),
    // Journal event kinds.
    EvOpened => ("opened", "发生"),
    EvAcknowledged => ("acknowledged", "确认"),
    EvAssigned => ("assigned", "派单"),
    EvWaiting => ("waiting", "等待"),
    EvCommented => ("comment", "备注"),
    EvPlanned => ("fix plan", "处理方案"),
    EvResolved => ("resolved", "解决"),
    EvClosed => ("closed", "关闭"),
    EvReopened => ("reopened", "重新打开"),
    EvEscalated => ("escalated", "升级"),
    EvReminded => ("reminder", "提醒"),
    EvBreached => ("deadline passed", "超时"),
    EvLevelChanged => ("level changed", "级别变更"),
    EvFlapping => ("flapping", "抖动"),
    EvSuppressed => ("in maintenance", "维护期内"),
    EvNotified => ("notified", "通知"),
    NotResolved => ("not resolved yet", "尚未解决"),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages_and_they_differ_where_words_do() {
        for t in Text::ALL {
            for lang in Language::ALL {
                assert!(!t.get(lang).trim().is_empty(), "{t:?} in {lang}");
            }
        }
        // A Chinese label that is the English one was probably not translated; only proper
        // names may stay as they are.
        let same: Vec<_> = Text::ALL
            .iter()
            .filter(|t| t.get(Language::En) == t.get(Language::ZhCn))
            .collect();
        assert!(same.is_empty(), "untranslated texts: {same:?}");
    }
}
